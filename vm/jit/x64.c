/* x64.c - the x86-64 encoder (see x64.h).
 *
 * Only the forms the templates use.  Every memory operand is encoded with a
 * 32-bit displacement (mod=10) and a SIB byte when it has an index or its
 * base is rsp/r12: longer than necessary, never ambiguous.  Each emitter
 * records its mnemonic when the buffer records text (--dump-jit).
 */
#if defined(__x86_64__)
#include "x64.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const R64[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
static const char *const R32[16] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                    "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
static const char *const CCN[16] = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};
static const char *const ALU[8] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};

void x_free(xbuf *a) {
    free(a->code);
    free(a->lines);
    memset(a, 0, sizeof *a);
}

static void line(xbuf *a, size_t off, const char *fmt, va_list ap) {
    if (a->nlines == a->lcap) {
        size_t nc = a->lcap ? a->lcap * 2 : 256;
        xline *nl = realloc(a->lines, nc * sizeof *nl);
        if (!nl) {
            a->failed = 1;
            return;
        }
        a->lines = nl;
        a->lcap = nc;
    }
    xline *l = &a->lines[a->nlines++];
    l->off = (uint32_t)off;
    vsnprintf(l->text, sizeof l->text, fmt, ap);
}

static void rec(xbuf *a, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void rec(xbuf *a, size_t off, const char *fmt, ...) {
    if (!a->record) return;
    va_list ap;
    va_start(ap, fmt);
    line(a, off, fmt, ap);
    va_end(ap);
}

void x_note(xbuf *a, const char *fmt, ...) {
    if (!a->record) return;
    va_list ap;
    va_start(ap, fmt);
    line(a, (size_t)-1, fmt, ap);
    va_end(ap);
}

static void byte(xbuf *a, uint8_t b) {
    if (a->len == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 4096;
        uint8_t *n = realloc(a->code, nc);
        if (!n) {
            a->failed = 1;
            a->len = 0;
            return;
        }
        a->code = n;
        a->cap = nc;
    }
    a->code[a->len++] = b;
}
static void i32(xbuf *a, int32_t v) {
    for (int i = 0; i < 4; i++) byte(a, (uint8_t)((uint32_t)v >> (8 * i)));
}
static void i64(xbuf *a, int64_t v) {
    for (int i = 0; i < 8; i++) byte(a, (uint8_t)((uint64_t)v >> (8 * i)));
}

static const char *mtext(xmem m, char *buf, size_t n) {
    char d[24] = "";
    if (m.disp) snprintf(d, sizeof d, "%s0x%x", m.disp < 0 ? "-" : "+", m.disp < 0 ? -(unsigned)m.disp : (unsigned)m.disp);
    if (m.index != NOREG) snprintf(buf, n, "[%s+%s*%d%s]", R64[m.base], R64[m.index], m.scale, d);
    else snprintf(buf, n, "[%s%s]", R64[m.base], d);
    return buf;
}

/* REX prefix (always emitted when w, or any extended register) */
static void rex(xbuf *a, int w, int reg, int index, int base) {
    uint8_t r = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index != NOREG && (index & 8)) ? 2 : 0) |
                          ((base & 8) ? 1 : 0));
    if (r != 0x40) byte(a, r);
}

static void modrm_mem(xbuf *a, int reg, xmem m) {
    int s = m.scale == 8 ? 3 : m.scale == 4 ? 2 : m.scale == 2 ? 1 : 0;
    if (m.index == NOREG && (m.base & 7) != 4) {
        byte(a, (uint8_t)(0x80 | ((reg & 7) << 3) | (m.base & 7)));
    } else {
        byte(a, (uint8_t)(0x80 | ((reg & 7) << 3) | 4));
        byte(a, (uint8_t)((s << 6) | (((m.index == NOREG ? 4 : m.index) & 7) << 3) | (m.base & 7)));
    }
    i32(a, m.disp);
}
static void modrm_rr(xbuf *a, int reg, int rm) { byte(a, (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7))); }

/* opcode with a register and a memory operand, 64-bit */
static void op_rm(xbuf *a, uint8_t opc, int r, xmem m) {
    rex(a, 1, r, m.index, m.base);
    byte(a, opc);
    modrm_mem(a, r, m);
}

void x_mov_rm(xbuf *a, int r, xmem m) {
    size_t o = a->len;
    char b[64];
    op_rm(a, 0x8b, r, m);
    rec(a, o, "mov %s, %s", R64[r], mtext(m, b, sizeof b));
}
void x_mov_mr(xbuf *a, xmem m, int r) {
    size_t o = a->len;
    char b[64];
    op_rm(a, 0x89, r, m);
    rec(a, o, "mov %s, %s", mtext(m, b, sizeof b), R64[r]);
}
void x_mov_mi(xbuf *a, xmem m, int32_t imm) {
    size_t o = a->len;
    char b[64];
    op_rm(a, 0xc7, 0, m);
    i32(a, imm);
    rec(a, o, "mov qword %s, %d", mtext(m, b, sizeof b), imm);
}
void x_mov_m32i(xbuf *a, xmem m, int32_t imm) {
    size_t o = a->len;
    char b[64];
    rex(a, 0, 0, m.index, m.base);
    byte(a, 0xc7);
    modrm_mem(a, 0, m);
    i32(a, imm);
    rec(a, o, "mov dword %s, %d", mtext(m, b, sizeof b), imm);
}
void x_mov_rr(xbuf *a, int d, int s) {
    size_t o = a->len;
    rex(a, 1, s, NOREG, d);
    byte(a, 0x89);
    modrm_rr(a, s, d);
    rec(a, o, "mov %s, %s", R64[d], R64[s]);
}
void x_mov_ri(xbuf *a, int r, int64_t imm) {
    size_t o = a->len;
    if (imm >= 0 && imm <= 0xffffffffll) {
        rex(a, 0, 0, NOREG, r);
        byte(a, (uint8_t)(0xb8 + (r & 7)));
        i32(a, (int32_t)(uint32_t)imm);
        rec(a, o, "mov %s, 0x%llx", R32[r], (unsigned long long)imm);
    } else if (imm >= INT32_MIN && imm <= INT32_MAX) {
        rex(a, 1, 0, NOREG, r);
        byte(a, 0xc7);
        modrm_rr(a, 0, r);
        i32(a, (int32_t)imm);
        rec(a, o, "mov %s, %lld", R64[r], (long long)imm);
    } else {
        rex(a, 1, 0, NOREG, r);
        byte(a, (uint8_t)(0xb8 + (r & 7)));
        i64(a, imm);
        rec(a, o, "movabs %s, 0x%llx", R64[r], (unsigned long long)imm);
    }
}
void x_movzx_w(xbuf *a, int r, xmem m) {
    size_t o = a->len;
    char b[64];
    rex(a, 0, r, m.index, m.base);
    byte(a, 0x0f);
    byte(a, 0xb7);
    modrm_mem(a, r, m);
    rec(a, o, "movzx %s, word %s", R32[r], mtext(m, b, sizeof b));
}
void x_movsx_w(xbuf *a, int r, xmem m) {
    size_t o = a->len;
    char b[64];
    rex(a, 1, r, m.index, m.base);
    byte(a, 0x0f);
    byte(a, 0xbf);
    modrm_mem(a, r, m);
    rec(a, o, "movsx %s, word %s", R64[r], mtext(m, b, sizeof b));
}
void x_lea(xbuf *a, int r, xmem m) {
    size_t o = a->len;
    char b[64];
    op_rm(a, 0x8d, r, m);
    rec(a, o, "lea %s, %s", R64[r], mtext(m, b, sizeof b));
}
void x_alu_rr(xbuf *a, int op, int d, int s) {
    size_t o = a->len;
    rex(a, 1, s, NOREG, d);
    byte(a, op == 0x85 ? 0x85 : (uint8_t)(op * 8 + 1));
    modrm_rr(a, s, d);
    rec(a, o, "%s %s, %s", op == 0x85 ? "test" : ALU[op], R64[d], R64[s]);
}
void x_alu_ri(xbuf *a, int op, int r, int32_t imm) {
    size_t o = a->len;
    rex(a, 1, 0, NOREG, r);
    if (imm >= -128 && imm <= 127) {
        byte(a, 0x83);
        modrm_rr(a, op, r);
        byte(a, (uint8_t)imm);
    } else {
        byte(a, 0x81);
        modrm_rr(a, op, r);
        i32(a, imm);
    }
    rec(a, o, "%s %s, %d", ALU[op], R64[r], imm);
}
void x_alu_mr(xbuf *a, int op, xmem m, int r) {
    size_t o = a->len;
    char b[64];
    op_rm(a, (uint8_t)(op * 8 + 1), r, m);
    rec(a, o, "%s %s, %s", ALU[op], mtext(m, b, sizeof b), R64[r]);
}
void x_cmp_rm(xbuf *a, int r, xmem m) {
    size_t o = a->len;
    char b[64];
    op_rm(a, 0x3b, r, m);
    rec(a, o, "cmp %s, %s", R64[r], mtext(m, b, sizeof b));
}
void x_alu_rm(xbuf *a, int op, int r, xmem m) {
    size_t o = a->len;
    char b[64];
    op_rm(a, (uint8_t)(op * 8 + 3), r, m);
    rec(a, o, "%s %s, %s", ALU[op], R64[r], mtext(m, b, sizeof b));
}
void x_alu_mi(xbuf *a, int op, xmem m, int32_t imm) {
    size_t o = a->len;
    char b[64];
    op_rm(a, 0x81, op, m);
    i32(a, imm);
    rec(a, o, "%s qword %s, %d", ALU[op], mtext(m, b, sizeof b), imm);
}
void x_test_mi(xbuf *a, xmem m, int32_t imm) {
    size_t o = a->len;
    char b[64];
    op_rm(a, 0xf7, 0, m);
    i32(a, imm);
    rec(a, o, "test qword %s, 0x%x", mtext(m, b, sizeof b), (unsigned)imm);
}
void x_test_ri(xbuf *a, int r, int32_t imm) {
    size_t o = a->len;
    rex(a, 1, 0, NOREG, r);
    byte(a, 0xf7);
    modrm_rr(a, 0, r);
    i32(a, imm);
    rec(a, o, "test %s, 0x%x", R64[r], (unsigned)imm);
}
void x_imul_rr(xbuf *a, int d, int s) {
    size_t o = a->len;
    rex(a, 1, d, NOREG, s);
    byte(a, 0x0f);
    byte(a, 0xaf);
    modrm_rr(a, d, s);
    rec(a, o, "imul %s, %s", R64[d], R64[s]);
}
void x_imul_rri(xbuf *a, int d, int s, int32_t imm) {
    size_t o = a->len;
    rex(a, 1, d, NOREG, s);
    byte(a, 0x69);
    modrm_rr(a, d, s);
    i32(a, imm);
    rec(a, o, "imul %s, %s, %d", R64[d], R64[s], imm);
}
void x_shift_ri(xbuf *a, int op, int r, int n) {
    size_t o = a->len;
    rex(a, 1, 0, NOREG, r);
    byte(a, 0xc1);
    modrm_rr(a, op, r);
    byte(a, (uint8_t)n);
    rec(a, o, "%s %s, %d", op == 4 ? "shl" : op == 5 ? "shr" : "sar", R64[r], n);
}
void x_cmov(xbuf *a, int cc, int d, int s) {
    size_t o = a->len;
    rex(a, 1, d, NOREG, s);
    byte(a, 0x0f);
    byte(a, (uint8_t)(0x40 + cc));
    modrm_rr(a, d, s);
    rec(a, o, "cmov%s %s, %s", CCN[cc], R64[d], R64[s]);
}
void x_push(xbuf *a, int r) {
    size_t o = a->len;
    rex(a, 0, 0, NOREG, r);
    byte(a, (uint8_t)(0x50 + (r & 7)));
    rec(a, o, "push %s", R64[r]);
}
void x_pop(xbuf *a, int r) {
    size_t o = a->len;
    rex(a, 0, 0, NOREG, r);
    byte(a, (uint8_t)(0x58 + (r & 7)));
    rec(a, o, "pop %s", R64[r]);
}
void x_ret(xbuf *a) {
    size_t o = a->len;
    byte(a, 0xc3);
    rec(a, o, "ret");
}
void x_call_r(xbuf *a, int r) {
    size_t o = a->len;
    rex(a, 0, 0, NOREG, r);
    byte(a, 0xff);
    modrm_rr(a, 2, r);
    rec(a, o, "call %s", R64[r]);
}
void x_call_rel_fwd(xbuf *a) {
    size_t o = a->len;
    byte(a, 0xe8);
    i32(a, 0);
    rec(a, o, "call ->");
}
void x_call_abs(xbuf *a, const void *fn, const char *name) {
    size_t o = a->len;
    int rec_was = a->record;
    a->record = 0;
    x_mov_ri(a, RAX, (int64_t)(uintptr_t)fn);
    x_call_r(a, RAX);
    a->record = rec_was;
    rec(a, o, "call %s (movabs rax, %p; call rax)", name, fn);
}
void x_cqo(xbuf *a) {
    size_t o = a->len;
    byte(a, 0x48);
    byte(a, 0x99);
    rec(a, o, "cqo");
}
void x_idiv_r(xbuf *a, int r) {
    size_t o = a->len;
    rex(a, 1, 0, NOREG, r);
    byte(a, 0xf7);
    modrm_rr(a, 7, r);
    rec(a, o, "idiv %s", R64[r]);
}
void x_movsd_xm(xbuf *a, int x, xmem m) {
    size_t o = a->len;
    char b[64];
    byte(a, 0xf2);
    rex(a, 0, x, m.index, m.base);
    byte(a, 0x0f);
    byte(a, 0x10);
    modrm_mem(a, x, m);
    rec(a, o, "movsd xmm%d, %s", x, mtext(m, b, sizeof b));
}
void x_movsd_mx(xbuf *a, xmem m, int x) {
    size_t o = a->len;
    char b[64];
    byte(a, 0xf2);
    rex(a, 0, x, m.index, m.base);
    byte(a, 0x0f);
    byte(a, 0x11);
    modrm_mem(a, x, m);
    rec(a, o, "movsd %s, xmm%d", mtext(m, b, sizeof b), x);
}
void x_sse_xx(xbuf *a, int opc, int d, int s) {
    size_t o = a->len;
    byte(a, 0xf2);
    byte(a, 0x0f);
    byte(a, (uint8_t)opc);
    modrm_rr(a, d, s);
    rec(a, o, "%s xmm%d, xmm%d", opc == 0x58 ? "addsd" : opc == 0x5c ? "subsd" : opc == 0x59 ? "mulsd" : "divsd", d, s);
}
size_t x_jcc_fwd(xbuf *a, int cc) {
    size_t o = a->len;
    byte(a, 0x0f);
    byte(a, (uint8_t)(0x80 + cc));
    i32(a, 0);
    rec(a, o, "j%s ->", CCN[cc]);
    return a->len - 4;
}
size_t x_jmp_fwd(xbuf *a) {
    size_t o = a->len;
    byte(a, 0xe9);
    i32(a, 0);
    rec(a, o, "jmp ->");
    return a->len - 4;
}
void x_patch(xbuf *a, size_t at, size_t target) {
    if (a->failed) return;
    int32_t rel = (int32_t)((int64_t)target - (int64_t)(at + 4));
    memcpy(a->code + at, &rel, 4);
    /* complete the recorded text with the target */
    if (a->record)
        for (size_t i = a->nlines; i-- > 0;) {
            xline *l = &a->lines[i];
            if (l->off != (uint32_t)-1 && l->off < at && at - l->off <= 2) {
                size_t n = strlen(l->text);
                if (n >= 2 && l->text[n - 1] == '>')
                    snprintf(l->text + n, sizeof l->text - n, " 0x%zx", target);
                break;
            }
        }
}
void x_patch_here(xbuf *a, size_t at) { x_patch(a, at, a->len); }
void x_jcc_to(xbuf *a, int cc, size_t target) {
    size_t o = a->len;
    byte(a, 0x0f);
    byte(a, (uint8_t)(0x80 + cc));
    i32(a, (int32_t)((int64_t)target - (int64_t)(a->len + 4)));
    rec(a, o, "j%s 0x%zx", CCN[cc], target);
}
void x_jmp_to(xbuf *a, size_t target) {
    size_t o = a->len;
    byte(a, 0xe9);
    i32(a, (int32_t)((int64_t)target - (int64_t)(a->len + 4)));
    rec(a, o, "jmp 0x%zx", target);
}
#else
typedef int rtvm_x64_unused; /* the encoder exists only on x86-64 */
#endif
