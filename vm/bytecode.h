/* bytecode.h - rtvm's register bytecode.
 *
 * A function's frame is an array of nregs value slots R[0..nregs); the
 * parameters are R[0..nparams) and the callee closure sits just below the
 * frame, at fp[-1].  An instruction is 8 bytes: op, x, a, and either b, c or
 * a 32-bit j (a jump target: an instruction index, or an immediate).
 * A CALL's closure and arguments are in R[a], R[a+1..a+b]: the callee's
 * frame starts at R[a+1] and the result lands in R[a].  The compiler keeps
 * call arguments at the top of the live registers, so everything above
 * R[a+b] is dead in the caller; the dead registers below R[a] of each CALL
 * and BUILTIN are listed in vm_func.dead (compile.c [compile.dead]).  A backward JMP is a loop back-edge: it
 * polls for a safepoint.  CALL polls too.
 *
 * Hints in x (they never change what an op means, only what the JIT may
 * assume): on ADD..NE, bit 0 / bit 1 say that R[b] / R[c] hold a small int
 * (a for loop's variable or limit, checked by CHKINT and not assigned in the
 * loop); on JF/JT, x = 1 says the tested register is dead after the jump.
 */
#ifndef RTVM_BYTECODE_H
#define RTVM_BYTECODE_H
#include <stdint.h>

typedef struct insn {
    uint8_t op;
    uint8_t x;
    uint16_t a;
    union {
        struct { uint16_t b, c; };
        int32_t j;
    };
} insn;

#define OPS(X) \
    X(MOV)      /* R[a] = R[b] */ \
    X(KINT)     /* R[a] = int j */ \
    X(KCONST)   /* R[a] = consts[b] */ \
    X(KNIL) X(KTRUE) X(KFALSE) \
    X(GGET)     /* R[a] = globals[b] (error when unset) */ \
    X(GSET)     /* globals[b] = R[a] */ \
    X(UGET)     /* R[a] = up[b] */ \
    X(UGETBOX)  /* R[a] = up[b].v */ \
    X(USETBOX)  /* up[b].v = R[a] */ \
    X(BOX)      /* R[a] = box(R[a]) */ \
    X(BOXGET)   /* R[a] = R[b].v */ \
    X(BOXSET)   /* R[a].v = R[b] */ \
    X(CLOSURE)  /* R[a] = closure of function b, capturing per its up_src */ \
    X(ADD) X(SUB) X(MUL) X(DIV) X(MOD) /* R[a] = R[b] op R[c] */ \
    X(LT) X(LE) X(GT) X(GE) X(EQ) X(NE) \
    X(NOT) X(NEG) /* R[a] = op R[b] */ \
    X(JMP)      /* pc = j; backward: poll */ \
    X(JF)       /* if !R[a]: pc = j */ \
    X(JT)       /* if R[a]: pc = j */ \
    X(CALL)     /* R[a] = R[a](R[a+1..a+b]) ; polls */ \
    X(RET)      /* return R[a] */ \
    X(NEWREC)   /* R[a] = new record of type b from R[c..] */ \
    X(GETF)     /* R[a] = R[b].field(c) */ \
    X(SETF)     /* R[a].field(b) = R[c] */ \
    X(GET)      /* R[a] = get(R[b], R[c]) : vector index or table key */ \
    X(PUT)      /* put(R[a], R[b], R[c]) */ \
    X(LEN)      /* R[a] = len(R[b]) */ \
    X(BUILTIN)  /* R[a] = builtin b (R[c .. c+x)) */ \
    X(CHKINT)   /* error unless R[a] is an int (a for loop's bounds) */

enum {
#define X(n) OP_##n,
    OPS(X)
#undef X
    OP_COUNT
};

extern const char *const vm_op_names[OP_COUNT];

/* Builtins called through OP_BUILTIN (builtins.c). */
#define BUILTINS(X) \
    X(PRINT, "print", 0, -1) X(STR, "str", 0, -1) X(VECTOR, "vector", 0, -1) \
    X(MAKE_VECTOR, "make-vector", 1, 2) X(TABLE, "table", 0, 0) X(HAS, "has?", 2, 2) \
    X(DEL, "del!", 2, 2) X(KEYS, "keys", 1, 1) X(PUSH, "push!", 2, 2) X(POP, "pop!", 1, 1) \
    X(SUBSTR, "substr", 3, 3) X(REPEAT, "string-repeat", 2, 2) X(CHAR_CODE, "char-code", 2, 2) \
    X(CLOCK, "clock", 0, 0) X(FLOAT, "float", 1, 1) X(INT, "int", 1, 1) X(SQRT, "sqrt", 1, 1) \
    X(ABS, "abs", 1, 1) X(MIN, "min", 2, 2) X(MAX, "max", 2, 2) X(ERROR, "error", 1, 1) \
    X(TYPE, "type", 1, 1) X(EQP, "eq?", 2, 2) X(NILP, "nil?", 1, 1) X(GETD, "get-or", 3, 3) \
    X(CHAR, "char", 1, 1) X(APPLY, "apply", 2, 2) X(JOIN, "join", 1, 2) \
    X(GC_STEP, "gc-step", 1, 1) X(WTABLE, "weak-table", 0, 0) X(WEAKREF, "weak-ref", 1, 1) \
    X(DEREF, "deref", 1, 1) X(FINALIZE, "finalize!", 2, 2) X(RUN_FIN, "run-finalizers", 0, 0) \
    X(COLLECT, "collect", 0, 0)

enum {
#define X(id, name, lo, hi) B_##id,
    BUILTINS(X)
#undef X
    B_COUNT
};
typedef struct vm_builtin_info { const char *name; int min_args, max_args; } vm_builtin_info;
extern const vm_builtin_info vm_builtins[B_COUNT];

#endif
