/*
 * micro_speech keyword spotting, audio to keyword, in C: two packages written
 * by `cloudless compile`, the TFLM audio preprocessor (`pre`, Signal ops,
 * stateful) and the micro_speech model (`kws`).
 *
 * Reads 16 kHz mono 16-bit PCM (a .wav, or raw little-endian samples), cuts it
 * into 30 ms frames every 20 ms as micro_speech's feature generator does, runs
 * each frame through pre_invoke() (its noise estimate carries from frame to
 * frame; pre_reset() starts a stream), keeps the last 49 frames of 40 int8
 * features in kws's input, runs kws_invoke() once at the end and prints the
 * four scores and the keyword.
 *
 * The packages need no libc. I/O is the host's stdio, or ARM semihosting when
 * built as firmware for QEMU (-DCL_FIRMWARE; the file name is WAV_PATH).
 */
#include <stdint.h>
#include "pre.h"
#include "kws.h"

#define SAMPLE_RATE 16000
#define FRAME_SAMPLES 480 /* 30 ms */
#define HOP_SAMPLES 320   /* 20 ms */
#define FEATURES PRE_OUTPUT0_BYTES /* 40 int8 features per frame */
#define FRAMES (KWS_INPUT0_BYTES / FEATURES)

#if PRE_INPUT0_BYTES != 2 * FRAME_SAMPLES
#error "the preprocessor does not take 480 int16 samples"
#endif

/* ---------------------------------------------------------------- I/O */
#ifdef CL_FIRMWARE
int32_t cl_semihost(int32_t op, const void *arg);
typedef int32_t cl_file;
static cl_file file_open(const char *path) {
  uint32_t args[3], n = 0;
  while (path[n]) n++;
  args[0] = (uint32_t)path; args[1] = 1u; /* "rb" */ args[2] = n;
  return cl_semihost(0x01, args); /* SYS_OPEN */
}
static int32_t file_read(cl_file f, uint8_t *buf, int32_t n) {
  uint32_t args[3];
  args[0] = (uint32_t)f; args[1] = (uint32_t)buf; args[2] = (uint32_t)n;
  return n - cl_semihost(0x06, args); /* SYS_READ returns the bytes NOT read */
}
static void file_close(cl_file f) { uint32_t a = (uint32_t)f; cl_semihost(0x02, &a); }
static void put(const char *s) { cl_semihost(0x04, s); } /* SYS_WRITE0 */
#define NO_FILE(f) ((f) < 0)
#else
#include <stdio.h>
typedef FILE *cl_file;
static cl_file file_open(const char *path) { return fopen(path, "rb"); }
static int32_t file_read(cl_file f, uint8_t *buf, int32_t n) { return (int32_t)fread(buf, 1, (size_t)n, f); }
static void file_close(cl_file f) { fclose(f); }
static void put(const char *s) { fputs(s, stdout); }
#define NO_FILE(f) ((f) == 0)
#endif

static void put_int(int32_t v) {
  char buf[12];
  int i = 11;
  uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + u % 10u); u /= 10u; } while (u);
  if (v < 0) buf[--i] = '-';
  put(buf + i);
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

/*
 * Positions the file at the samples: for a RIFF/WAVE file, walks the chunks to
 * "data" after checking "fmt " says PCM, mono, 16 kHz, 16 bits; anything else
 * is raw samples, whose first 12 bytes are given back in `head`. Returns the
 * bytes of `head` that are samples (0 or 12), or -1 with a message.
 */
static int32_t skip_header(cl_file f, uint8_t *head) {
  uint8_t chunk[8], fmt[16];
  int fmt_ok = 0;
  if (file_read(f, head, 12) != 12) { put("error: shorter than one frame\n"); return -1; }
  if (le32(head) != 0x46464952u || le32(head + 8) != 0x45564157u) return 12; /* not "RIFF....WAVE": raw */
  for (;;) {
    uint32_t size;
    if (file_read(f, chunk, 8) != 8) { put("error: a WAVE file without a data chunk\n"); return -1; }
    size = le32(chunk + 4);
    if (le32(chunk) == 0x61746164u) { /* "data" */
      if (!fmt_ok) { put("error: the data chunk comes before a fmt chunk\n"); return -1; }
      return 0;
    }
    if (le32(chunk) == 0x20746d66u && size >= 16u) { /* "fmt " */
      if (file_read(f, fmt, 16) != 16) { put("error: truncated fmt chunk\n"); return -1; }
      if (le16(fmt) != 1u || le16(fmt + 2) != 1u || le32(fmt + 4) != SAMPLE_RATE || le16(fmt + 14) != 16u) {
        put("error: the WAVE file must be PCM, mono, 16000 Hz, 16-bit\n");
        return -1;
      }
      fmt_ok = 1;
      size -= 16u;
    }
    /* Skip the rest of the chunk (padded to an even size). */
    size += size & 1u;
    while (size > 0u) {
      uint8_t skip[64];
      const int32_t n = size > 64u ? 64 : (int32_t)size;
      if (file_read(f, skip, n) != n) { put("error: truncated WAVE chunk\n"); return -1; }
      size -= (uint32_t)n;
    }
  }
}

static const char *const labels[KWS_OUTPUT0_DIM1] = { "silence", "unknown", "yes", "no" };

/* Reads up to n samples into dst (from `head` first); returns how many. */
static int32_t read_samples(cl_file f, uint8_t *head, int32_t *head_bytes, int16_t *dst, int32_t n) {
  uint8_t bytes[2 * HOP_SAMPLES];
  int32_t got = 0;
  while (got < n) {
    int32_t want = 2 * (n - got), have = 0, i;
    if (want > (int32_t)sizeof(bytes)) want = (int32_t)sizeof(bytes);
    while (*head_bytes > 0 && have < want) { bytes[have++] = head[12 - *head_bytes]; (*head_bytes)--; }
    have += file_read(f, bytes + have, want - have);
    for (i = 0; i + 1 < have; i += 2) dst[got++] = (int16_t)le16(bytes + i);
    if (have < want) break;
  }
  return got;
}

static int run(const char *path) {
  static int16_t window[FRAME_SAMPLES];
  uint8_t head[12];
  int32_t head_bytes, frames = 0, i, best = 0;
  int8_t *features = (int8_t *)kws_input(0);
  const int8_t *scores;
  cl_file f = file_open(path);
  if (NO_FILE(f)) { put("error: cannot open "); put(path); put("\n"); return 2; }
  head_bytes = skip_header(f, head);
  if (head_bytes < 0) { file_close(f); return 2; }
  pre_reset(); /* a new stream: the noise estimate starts from zero, as in a fresh engine session */
  if (read_samples(f, head, &head_bytes, window, FRAME_SAMPLES) == FRAME_SAMPLES) {
    for (;;) {
      int16_t *in = (int16_t *)pre_input(0);
      for (i = 0; i < FRAME_SAMPLES; i++) in[i] = window[i];
      if (pre_invoke() != PRE_STATUS_OK) { put("error: pre_invoke failed\n"); return 1; }
      /* The feature window slides by one frame: oldest first, newest last. */
      for (i = 0; i < (FRAMES - 1) * FEATURES; i++) features[i] = features[i + FEATURES];
      for (i = 0; i < FEATURES; i++) features[(FRAMES - 1) * FEATURES + i] = ((const int8_t *)pre_output(0))[i];
      frames++;
      for (i = 0; i < FRAME_SAMPLES - HOP_SAMPLES; i++) window[i] = window[i + HOP_SAMPLES];
      if (read_samples(f, head, &head_bytes, window + FRAME_SAMPLES - HOP_SAMPLES, HOP_SAMPLES) != HOP_SAMPLES) break;
    }
  }
  file_close(f);
  if (frames < FRAMES) { put("error: "); put_int(frames); put(" frames; micro_speech needs "); put_int(FRAMES); put(" (1 s of audio)\n"); return 2; }
  if (kws_invoke() != KWS_STATUS_OK) { put("error: kws_invoke failed\n"); return 1; }
  scores = (const int8_t *)kws_output(0);
  put("frames "); put_int(frames); put("\n");
  for (i = 0; i < KWS_OUTPUT0_DIM1; i++) {
    put(labels[i]); put(" "); put_int(scores[i]); put("\n");
    if (scores[i] > scores[best]) best = i;
  }
  put("keyword: "); put(labels[best]); put("\n");
  return 0;
}

#ifdef CL_FIRMWARE
uint32_t cl_stack_high_water(void); /* cl_startup.c: deepest stack use since reset (painted stack) */
int main(void) {
  const int status = run(WAV_PATH);
  put("stack high-water mark "); put_int((int32_t)cl_stack_high_water()); put(" B\n");
  return status;
}
#else
int main(int argc, char **argv) {
  if (argc != 2) { put("usage: kws FILE.wav|FILE.raw (16 kHz mono 16-bit PCM, at least 1 s)\n"); return 2; }
  return run(argv[1]);
}
#endif
