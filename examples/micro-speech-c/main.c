/*
 * micro_speech keyword spotting from the package `cloudless compile` writes:
 * reads one spectrogram (49 frames x 40 int8 features, 1960 bytes, as TFLM's
 * audio preprocessor produces it) from a file, runs the model, prints the
 * four scores and the best label. The model itself needs no libc; stdio is
 * only this host demo's.
 */
#include <stdio.h>
#include <stdint.h>
#include "kws.h"

static const char *const labels[KWS_OUTPUT0_DIM1] = { "silence", "unknown", "yes", "no" };

int main(int argc, char **argv) {
  FILE *f;
  int8_t *in = (int8_t *)kws_input(0);
  const int8_t *scores;
  int i, best = 0;
  if (argc != 2) { fprintf(stderr, "usage: %s FEATURES.bin (%d int8 bytes)\n", argv[0], KWS_INPUT0_BYTES); return 2; }
  f = fopen(argv[1], "rb");
  if (!f || fread(in, 1, KWS_INPUT0_BYTES, f) != KWS_INPUT0_BYTES) { fprintf(stderr, "cannot read %d bytes from %s\n", KWS_INPUT0_BYTES, argv[1]); return 2; }
  fclose(f);
  if (kws_invoke() != KWS_STATUS_OK) { fprintf(stderr, "invoke failed\n"); return 1; }
  scores = (const int8_t *)kws_output(0);
  for (i = 0; i < KWS_OUTPUT0_DIM1; i++) {
    printf("%-8s %4d\n", labels[i], scores[i]);
    if (scores[i] > scores[best]) best = i;
  }
  printf("-> %s\n", labels[best]);
  return 0;
}
