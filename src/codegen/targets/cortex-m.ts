/**
 * Minimal bare-metal support for running a package as firmware under QEMU:
 * our own vector table and reset handler, a linker script per machine, and
 * ARM semihosting (the debug trap `bkpt 0xAB`) to write the outputs to a host
 * file and to exit. No libc: the package needs none, and the few helpers a
 * compiler may call (memcpy, memset) are defined here; libgcc supplies the
 * 64-bit division of the fixed-point helpers on cores without it.
 *
 * The stack is painted with a pattern before main; after the run the
 * firmware reports how deep it was ever written (the high-water mark).
 *
 * Instruction counts: QEMU runs the firmware with `-icount shift=0`, under
 * which its virtual clock advances exactly 1 ns per guest instruction, and
 * every timer of the machine is clocked from that virtual clock. A free-running
 * 32-bit hardware counter read before and after invoke therefore counts
 * instructions: `ticks * (1e9 / counterHz)` of them, give or take one tick.
 */

export type CortexTarget = 'cortex-m4' | 'cortex-m0plus';

export interface MachineSpec {
  /** QEMU machine name. */
  machine: string;
  /** Compiler flags selecting the core (and FPU). */
  cflags: string[];
  flashOrigin: number;
  flashBytes: number;
  ramOrigin: number;
  ramBytes: number;
  /** Bytes reserved for the stack at the top of RAM. */
  stackBytes: number;
  /** Whether the reset handler enables the FPU (CPACR). */
  fpu: boolean;
  /** The free-running counter read around invoke: what it is, and its clock in QEMU. */
  counter: { device: string; hz: number; start: string; read: string };
}

/** Instructions per tick of a machine's counter under `-icount shift=0` (1 ns of virtual time per instruction). */
export function instructionsPerTick(m: MachineSpec): number {
  return 1e9 / m.counter.hz;
}

/**
 * mps2-an386: Cortex-M4 with FPU; QEMU maps 4 MB of SSRAM1 at 0 (code) and
 * 4 MB of SSRAM2/3 at 0x20000000 (data).
 * microbit: nRF51822, a Cortex-M0 (QEMU has no M0+ machine; the M0 runs the
 * same ARMv6-M Thumb code), 256 KB flash at 0 and 16 KB RAM at 0x20000000.
 */
export const MACHINES: Record<CortexTarget, MachineSpec> = {
  'cortex-m4': {
    machine: 'mps2-an386',
    cflags: ['-mcpu=cortex-m4', '-mthumb', '-mfloat-abi=hard', '-mfpu=fpv4-sp-d16'],
    flashOrigin: 0, flashBytes: 4 << 20, ramOrigin: 0x20000000, ramBytes: 4 << 20, stackBytes: 16 << 10, fpu: true,
    // CMSDK APB timer 0 (0x40000000: CTRL, VALUE, RELOAD), a 32-bit down-counter on the 25 MHz SYSCLK.
    counter: {
      device: 'CMSDK APB timer 0 (25 MHz)', hz: 25e6,
      start: 'CL_REG(0x40000008u) = 0xFFFFFFFFu; CL_REG(0x40000004u) = 0xFFFFFFFFu; CL_REG(0x40000000u) = 1u;',
      read: 'return ~CL_REG(0x40000004u);',
    },
  },
  'cortex-m0plus': {
    machine: 'microbit',
    cflags: ['-mcpu=cortex-m0plus', '-mthumb', '-mfloat-abi=soft'],
    flashOrigin: 0, flashBytes: 256 << 10, ramOrigin: 0x20000000, ramBytes: 16 << 10, stackBytes: 4 << 10, fpu: false,
    // nRF51 TIMER0 (0x40008000) in timer mode, 32-bit, prescaler 0: 16 MHz; read by a CAPTURE[0] task into CC[0].
    counter: {
      device: 'nRF51 TIMER0 (16 MHz)', hz: 16e6,
      start: 'CL_REG(0x40008504u) = 0u; CL_REG(0x40008508u) = 3u; CL_REG(0x40008510u) = 0u; CL_REG(0x4000800Cu) = 1u; CL_REG(0x40008000u) = 1u;',
      read: 'CL_REG(0x40008040u) = 1u; return CL_REG(0x40008540u);',
    },
  },
};

export function linkerScript(m: MachineSpec): string {
  return `/* cloudless firmware layout for QEMU ${m.machine}. */
MEMORY
{
  FLASH (rx) : ORIGIN = 0x${m.flashOrigin.toString(16)}, LENGTH = ${m.flashBytes}
  RAM (rwx)  : ORIGIN = 0x${m.ramOrigin.toString(16)}, LENGTH = ${m.ramBytes}
}
ENTRY(cl_reset)
SECTIONS
{
  .text : {
    KEEP(*(.vectors))
    *(.text*)
    *(.rodata*)
    . = ALIGN(4);
  } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  _etext = .;
  .data : AT(_etext) {
    _sdata = .;
    *(.data*)
    . = ALIGN(4);
    _edata = .;
  } > RAM
  .bss (NOLOAD) : {
    _sbss = .;
    *(.bss*)
    *(COMMON)
    . = ALIGN(4);
    _ebss = .;
  } > RAM
  _stack_top = ORIGIN(RAM) + LENGTH(RAM);
  _stack_limit = _stack_top - ${m.stackBytes};
  ASSERT(_ebss <= _stack_limit, "the arena and data do not fit the RAM below the stack")
}
`;
}

/** Startup, semihosting and the libc helpers a compiler may call. */
export function startupSource(m: MachineSpec): string {
  return `/* cloudless bare-metal startup for ${m.machine} (our own; no libc). */
#include <stdint.h>
#include <stddef.h>

extern uint32_t _etext, _sdata, _edata, _sbss, _ebss, _stack_top, _stack_limit;
int main(void);
void cl_reset(void);

#define CL_STACK_PAINT 0xC1A55EEDu

static void cl_default_handler(void) { for (;;) {} }

__attribute__((section(".vectors"), used))
const void *const cl_vectors[16] = {
  (const void *)&_stack_top, (const void *)cl_reset,
  (const void *)cl_default_handler, (const void *)cl_default_handler,
  (const void *)cl_default_handler, (const void *)cl_default_handler, (const void *)cl_default_handler, 0, 0, 0, 0,
  (const void *)cl_default_handler, (const void *)cl_default_handler, 0,
  (const void *)cl_default_handler, (const void *)cl_default_handler,
};

void *memcpy(void *dst, const void *src, size_t n) {
  uint8_t *d = (uint8_t *)dst;
  const uint8_t *s = (const uint8_t *)src;
  while (n--) *d++ = *s++;
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  uint8_t *d = (uint8_t *)dst;
  while (n--) *d++ = (uint8_t)c;
  return dst;
}

/* ARM semihosting: operation in r0, argument block in r1, result in r0. */
int32_t cl_semihost(int32_t op, const void *arg) {
  register int32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

__attribute__((naked, noreturn)) void cl_reset(void) {
  __asm__ volatile(
    "ldr r0, =_stack_top\\n"
    "mov sp, r0\\n"
    "bl cl_start\\n"
    "b .\\n");
}

/* Paints the stack from its limit to just below the current frame, so the high-water mark can be read after main. */
__attribute__((noinline)) static void cl_paint_stack(void) {
  volatile uint32_t *p = &_stack_limit;
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  while ((uint32_t)p < sp - 64u) *p++ = CL_STACK_PAINT;
}

uint32_t cl_stack_high_water(void) {
  const uint32_t *p = &_stack_limit;
  while (p < &_stack_top && *p == CL_STACK_PAINT) p++;
  return (uint32_t)((const uint8_t *)&_stack_top - (const uint8_t *)p);
}

/* The free-running counter (${m.counter.device}); see cl_counter_read. */
#define CL_REG(a) (*(volatile uint32_t *)(a))
void cl_counter_start(void) { ${m.counter.start} }
/* Ticks since cl_counter_start, counting up; under QEMU -icount shift=0 each is ${1e9 / m.counter.hz} instructions. */
uint32_t cl_counter_read(void) { ${m.counter.read} }

void cl_exit(int status) {
  /* SYS_EXIT_EXTENDED (0x20): reason ADP_Stopped_ApplicationExit with a status. */
  uint32_t args[2];
  args[0] = 0x20026u;
  args[1] = (uint32_t)status;
  cl_semihost(0x20, args);
  for (;;) {}
}

void cl_start(void) {
  uint32_t *src = &_etext, *dst = &_sdata;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss; dst++) *dst = 0;
${m.fpu ? '  /* CPACR: full access to CP10 and CP11 (the FPU). */\n  *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);\n  __asm__ volatile("dsb\\n isb");\n' : ''}  cl_paint_stack();
  cl_exit(main());
}
`;
}
