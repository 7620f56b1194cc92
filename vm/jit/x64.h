/* x64.h - a small x86-64 encoder for the template JIT (x64.c).
 *
 * Emits into a growable buffer; every instruction can also be recorded as
 * text (offset + mnemonic) for --dump-jit.  Memory operands are
 * [base + index*scale + disp32].  Jumps within a function are rel32 with
 * labels patched later.  The buffer is ordinary memory: jit.c copies the
 * finished code into a fresh mapping and only then makes it executable.
 */
#ifndef RTVM_X64_H
#define RTVM_X64_H
#include <stddef.h>
#include <stdint.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15, NOREG = -1 };

enum { CC_O = 0, CC_NO = 1, CC_B = 2, CC_AE = 3, CC_E = 4, CC_NE = 5, CC_BE = 6, CC_A = 7, CC_S = 8, CC_NS = 9,
       CC_L = 12, CC_GE = 13, CC_LE = 14, CC_G = 15 };

typedef struct xmem { int base, index, scale; int32_t disp; } xmem;
#define M(b, d) ((xmem){(b), NOREG, 1, (int32_t)(d)})
#define MX(b, i, s, d) ((xmem){(b), (i), (s), (int32_t)(d)})

typedef struct xline { uint32_t off; char text[100]; } xline;

typedef struct xbuf {
    uint8_t *code;
    size_t len, cap;
    int failed;          /* out of memory */
    int record;          /* keep text lines */
    xline *lines;
    size_t nlines, lcap;
} xbuf;

void x_free(xbuf *a);
void x_note(xbuf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));  /* a comment line */

void x_mov_rm(xbuf *a, int r, xmem m);        /* mov r64, [m] */
void x_mov_mr(xbuf *a, xmem m, int r);        /* mov [m], r64 */
void x_mov_mi(xbuf *a, xmem m, int32_t imm);  /* mov qword [m], imm32 (sign-extended) */
void x_mov_m32i(xbuf *a, xmem m, int32_t imm);/* mov dword [m], imm32 */
void x_mov_rr(xbuf *a, int d, int s);
void x_mov_ri(xbuf *a, int r, int64_t imm);   /* shortest mov of a constant */
void x_movzx_w(xbuf *a, int r, xmem m);       /* movzx r32, word [m] */
void x_movsx_w(xbuf *a, int r, xmem m);       /* movsx r64, word [m] */
void x_lea(xbuf *a, int r, xmem m);
void x_alu_rr(xbuf *a, int op, int d, int s); /* op: 0 add 1 or 4 and 5 sub 6 xor 7 cmp; 0x85 test */
void x_alu_ri(xbuf *a, int op, int r, int32_t imm);
void x_alu_mr(xbuf *a, int op, xmem m, int r);  /* cmp/add [m], r: op as above (r/m destination form) */
void x_cmp_rm(xbuf *a, int r, xmem m);        /* cmp r64, [m] */
void x_alu_rm(xbuf *a, int op, int r, xmem m); /* op r64, [m] */
void x_alu_mi(xbuf *a, int op, xmem m, int32_t imm); /* op qword [m], imm32 */
void x_test_mi(xbuf *a, xmem m, int32_t imm); /* test qword [m], imm32 */
void x_test_ri(xbuf *a, int r, int32_t imm);
void x_imul_rr(xbuf *a, int d, int s);
void x_imul_rri(xbuf *a, int d, int s, int32_t imm);
void x_shift_ri(xbuf *a, int op, int r, int n); /* op: 4 shl 5 shr 7 sar */
void x_cmov(xbuf *a, int cc, int d, int s);
void x_push(xbuf *a, int r);
void x_pop(xbuf *a, int r);
void x_ret(xbuf *a);
void x_call_abs(xbuf *a, const void *fn, const char *name); /* mov rax, fn ; call rax */
void x_call_r(xbuf *a, int r);
void x_call_rel_fwd(xbuf *a);                 /* call rel32, patched with x_patch(at + 1) */
/* Jumps: return the offset of the rel32 to patch, or take a known target. */
size_t x_jcc_fwd(xbuf *a, int cc);
size_t x_jmp_fwd(xbuf *a);
void x_patch(xbuf *a, size_t at, size_t target);
void x_patch_here(xbuf *a, size_t at);
void x_jcc_to(xbuf *a, int cc, size_t target);
void x_jmp_to(xbuf *a, size_t target);

void x_cqo(xbuf *a);                          /* sign-extend rax into rdx */
void x_idiv_r(xbuf *a, int r);                /* rdx:rax / r -> rax quotient, rdx remainder */
/* SSE2 scalar doubles: xmm registers 0..7 */
void x_movsd_xm(xbuf *a, int x, xmem m);      /* movsd xmm, [m] */
void x_movsd_mx(xbuf *a, xmem m, int x);      /* movsd [m], xmm */
void x_sse_xx(xbuf *a, int opc, int d, int s); /* opc 0x58 add, 0x5c sub, 0x59 mul, 0x5e div: d op= s */
#endif
