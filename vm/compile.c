/* compile.c - s-expressions to register bytecode.
 *
 * One function state (fstate) per function being compiled; registers are
 * handed out like a stack: locals first, temporaries above them, freed by
 * restoring fs->nreg.  Call arguments always go to fresh registers at the
 * top (bytecode.h's CALL contract).
 *
 * Closures capture values; a local that is both captured by an inner
 * function and assigned after its declaration lives in a box.  Which locals
 * those are is only known after the whole scope is seen, so the program is
 * compiled twice: the first pass marks captured/assigned declarations on
 * their nodes and its code is thrown away; the second emits the code with
 * final boxing decisions.
 *
 * [compile.dead] Registers that hold no live value.  (collect) clears
 * them in every frame (weak.c), so that a value the program can no longer
 * reach does not survive in a register.  A frame is always stopped at a
 * CALL or BUILTIN; at such a site the compiler knows which of the
 * registers below the site's live top (a CALL's closure register, a
 * BUILTIN's last argument + 1) are dead, and records them in the
 * function's dead-register table:
 *   - a register that is the destination of an expression being compiled
 *     (expr's dst, a body's dst through all its statements): its content
 *     is an earlier value (the discarded result of the statement before,
 *     the last iteration's body value) that the expression overwrites
 *     before anything reads it;
 *   - an operand an operation already consumed while its registers are
 *     still allocated (the partial results of a chained + - *);
 * but never the register of a local in scope (deadreg marks, isvar
 * protects).  Everything else below the live top is a local in scope, an
 * evaluated operand of an operation still pending, or a for loop's int and
 * bool bookkeeping; everything from the live top up is unallocated.
 *
 * Invariants: every compile error longjmps out with "file:line:col: ...";
 * recursion depth follows the node depth, which the reader bounds.
 */
#include "vm.h"
#include "read.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NF_CAPTURED 1
#define NF_ASSIGNED 2
#define MAX_REGS 4000
#define MAX_LOCALS 1024
#define MAX_UPS 255

typedef struct lvar { const char *name; int reg; int boxed; node *decl; } lvar;
typedef struct uvar { const char *name; int boxed; uint16_t src; node *decl; } uvar;

typedef struct fstate {
    struct fstate *parent;
    struct fstate *live_next; /* the compiler's list of unfinished states, freed on error */
    vm_func *f;
    insn *code;
    uint32_t *pos;
    int n, cap;
    lvar vars[MAX_LOCALS];
    int nvars;
    uvar ups[MAX_UPS];
    int nups;
    int nreg, maxreg;
    int toplevel;          /* the program's main function */
    int blockdepth;        /* 0: directly at the top level of main */
    int discard;           /* a loop body's result register: nothing reads it */
    uint8_t intreg[MAX_REGS]; /* registers known to hold small ints (for loops) */
    uint8_t deadreg[MAX_REGS]; /* [compile.dead]: its content is dead here */
    uint8_t isvar[MAX_REGS];   /* the register of a declared local */
    uint32_t *dead;            /* per instruction: offset into pool, 0 none */
    uint16_t *pool;            /* dead-register lists: count, registers */
    int npool, poolcap;
    uint32_t curpos;
} fstate;

typedef struct comp {
    reader *r;
    rtvm_program *p;
    int pass;
    int fcap, ccap, gcap, tcap, ncap;
    struct fstate *live;
} comp;

static comp *C;  /* set per compile; compile runs on one thread under cmp_lock */
static pthread_mutex_t cmp_lock = PTHREAD_MUTEX_INITIALIZER;

static fstate *fs_new(void);
static void fs_done(fstate *fs);
static _Noreturn void cerr(node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cerr(node *n, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    read_error_at(C->r, n ? n->line : 1, n ? n->col : 1, "%s", msg);
}

static void *xgrow(void *p, int *cap, int need, size_t elem) {
    if (need <= *cap) return p;
    int nc = *cap ? *cap : 8;
    while (nc < need) nc *= 2;
    void *q = realloc(p, (size_t)nc * elem);
    if (!q) cerr(NULL, "out of memory while compiling");
    *cap = nc;
    return q;
}

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d) cerr(NULL, "out of memory while compiling");
    return d;
}

/* ---- emission ---- */
static int emit(fstate *fs, int op, int a, int b, int c) {
    fs->code = xgrow(fs->code, &fs->cap, fs->n + 1, sizeof(insn));
    int cap2 = fs->cap - 1;
    (void)cap2;
    fs->pos = realloc(fs->pos, (size_t)fs->cap * sizeof(uint32_t));
    if (!fs->pos) cerr(NULL, "out of memory while compiling");
    fs->dead = realloc(fs->dead, (size_t)fs->cap * sizeof(uint32_t));
    if (!fs->dead) cerr(NULL, "out of memory while compiling");
    fs->dead[fs->n] = 0;
    insn *i = &fs->code[fs->n];
    memset(i, 0, sizeof *i);
    i->op = (uint8_t)op;
    i->a = (uint16_t)a;
    i->b = (uint16_t)b;
    i->c = (uint16_t)c;
    fs->pos[fs->n] = fs->curpos;
    return fs->n++;
}
static int emitj(fstate *fs, int op, int a, int32_t j) {
    int at = emit(fs, op, a, 0, 0);
    fs->code[at].j = j;
    return at;
}
static void patch(fstate *fs, int at) { fs->code[at].j = fs->n; }

/* A conditional jump on a temporary that nothing reads afterwards (x = 1):
 * the JIT may then branch on a compare without storing its result. */
static int emit_test_jump(fstate *fs, int op, int reg, int save) {
    int at = emitj(fs, op, reg, 0);
    if (reg >= save) fs->code[at].x = 1;
    return at;
}

static int newreg(fstate *fs, node *n) {
    int r = fs->nreg++;
    if (fs->nreg > MAX_REGS) cerr(n, "function too large (more than %d registers)", MAX_REGS);
    if (fs->nreg > fs->maxreg) fs->maxreg = fs->nreg;
    fs->deadreg[r] = 1; /* no value yet */
    fs->isvar[r] = 0;
    return r;
}

/* [compile.dead] Record, for the CALL or BUILTIN at `at`, the registers
 * below `top` that hold no live value there. */
static void note_dead(fstate *fs, int at, int top) {
    int cnt = 0;
    for (int r = 0; r < top; r++) cnt += fs->deadreg[r] && !fs->isvar[r];
    if (!cnt) return;
    int first = fs->npool ? fs->npool : 1; /* offset 0 means none */
    fs->pool = xgrow(fs->pool, &fs->poolcap, first + cnt + 1, sizeof(uint16_t));
    fs->dead[at] = (uint32_t)first;
    fs->pool[first] = (uint16_t)cnt;
    int k = first + 1;
    for (int r = 0; r < top; r++)
        if (fs->deadreg[r] && !fs->isvar[r]) fs->pool[k++] = (uint16_t)r;
    fs->npool = k;
}

static void setpos(fstate *fs, node *n) {
    int col = n->col > 4095 ? 4095 : n->col;
    fs->curpos = ((uint32_t)n->line << 12) | (uint32_t)col;
}

/* ---- program tables ---- */
static int add_const(const vm_const *k) {
    rtvm_program *p = C->p;
    for (int i = 0; i < p->nconsts; i++) {
        vm_const *o = &p->consts[i];
        if (o->kind != k->kind) continue;
        if (k->kind == C_FLOAT && memcmp(&o->d, &k->d, sizeof k->d) == 0) return i;
        if (k->kind == C_STR && o->len == k->len && memcmp(o->s, k->s, k->len) == 0) return i;
        if (k->kind == C_INT && o->i == k->i) return i;
    }
    if (p->nconsts >= 65535) cerr(NULL, "too many constants");
    p->consts = xgrow(p->consts, &C->ccap, p->nconsts + 1, sizeof(vm_const));
    vm_const *d = &p->consts[p->nconsts];
    *d = *k;
    if (k->kind == C_STR) {
        d->s = malloc(k->len + 1);
        if (!d->s) cerr(NULL, "out of memory while compiling");
        memcpy(d->s, k->s, k->len);
        d->s[k->len] = 0;
    }
    return p->nconsts++;
}

static int global_index(const char *name) {
    rtvm_program *p = C->p;
    for (int i = 0; i < p->nglobals; i++)
        if (strcmp(p->globals[i], name) == 0) return i;
    if (p->nglobals >= 65535) cerr(NULL, "too many globals");
    p->globals = xgrow(p->globals, &C->gcap, p->nglobals + 1, sizeof(char *));
    p->globals[p->nglobals] = xstrdup(name);
    return p->nglobals++;
}

static int field_name(const char *name, int create) {
    rtvm_program *p = C->p;
    for (int i = 0; i < p->nfnames; i++)
        if (strcmp(p->fnames[i], name) == 0) return i;
    if (!create) return -1;
    if (p->nfnames >= 4096) cerr(NULL, "too many field names");
    p->fnames = xgrow(p->fnames, &C->ncap, p->nfnames + 1, sizeof(char *));
    p->fnames[p->nfnames] = xstrdup(name);
    return p->nfnames++;
}

/* A field used in code: pass 1 notes the name, pass 2 requires a record to have it. */
static int field_ref(node *fld) {
    if (fld->kind != N_SYM) cerr(fld, "field name expected");
    if (C->pass == 1) return field_name(fld->s, 1);
    int fid = field_name(fld->s, 0);
    for (int t = 0; fid >= 0 && t < C->p->nrtypes; t++)
        for (int i = 0; i < C->p->rtypes[t].nfields; i++)
            if (C->p->rtypes[t].fields[i] == fid) return fid;
    cerr(fld, "unknown field '%s'", fld->s);
}

static int find_rtype(const char *name) {
    for (int i = 0; i < C->p->nrtypes; i++)
        if (strcmp(C->p->rtypes[i].name, name) == 0) return i;
    return -1;
}

static int builtin_id(const char *name) {
    for (int i = 0; i < B_COUNT; i++)
        if (strcmp(vm_builtins[i].name, name) == 0) return i;
    return -1;
}

/* ---- names ---- */
enum { R_LOCAL, R_UP, R_GLOBAL };
typedef struct resolved { int kind, index, boxed; node *decl; } resolved;

static int find_local(fstate *fs, const char *name) {
    for (int i = fs->nvars - 1; i >= 0; i--)
        if (strcmp(fs->vars[i].name, name) == 0) return i;
    return -1;
}

static int resolve_up(fstate *fs, const char *name, node *at, resolved *out) {
    for (int i = 0; i < fs->nups; i++)
        if (strcmp(fs->ups[i].name, name) == 0) {
            out->kind = R_UP;
            out->index = i;
            out->boxed = fs->ups[i].boxed;
            out->decl = fs->ups[i].decl;
            return 1;
        }
    if (!fs->parent) return 0;
    fstate *pf = fs->parent;
    uint16_t src;
    int boxed;
    node *decl;
    int li = find_local(pf, name);
    if (li >= 0) {
        src = (uint16_t)pf->vars[li].reg;
        boxed = pf->vars[li].boxed;
        decl = pf->vars[li].decl;
    } else {
        resolved pr;
        if (!resolve_up(pf, name, at, &pr)) return 0;
        src = (uint16_t)(0x8000 | pr.index);
        boxed = pr.boxed;
        decl = pr.decl;
    }
    if (decl) decl->flags |= NF_CAPTURED;
    if (fs->nups >= MAX_UPS) cerr(at, "too many captured variables (more than %d)", MAX_UPS);
    uvar *u = &fs->ups[fs->nups];
    u->name = name;
    u->boxed = boxed;
    u->src = src;
    u->decl = decl;
    out->kind = R_UP;
    out->index = fs->nups++;
    out->boxed = boxed;
    out->decl = decl;
    return 1;
}

static resolved resolve(fstate *fs, const char *name, node *at) {
    resolved r = {R_GLOBAL, 0, 0, NULL};
    int li = find_local(fs, name);
    if (li >= 0) {
        r.kind = R_LOCAL;
        r.index = fs->vars[li].reg;
        r.boxed = fs->vars[li].boxed;
        r.decl = fs->vars[li].decl;
        return r;
    }
    if (resolve_up(fs, name, at, &r)) return r;
    r.index = global_index(name);
    return r;
}

static const char *const special_forms[] = {"def", "defn", "fn", "lambda", "let", "set!", "if", "when", "unless",
                                            "cond", "while", "for", "do", "and", "or", "record", "new", ".",
                                            "return", "nil", "true", "false", "else", NULL};
static int is_reserved(const char *s) {
    for (int i = 0; special_forms[i]; i++)
        if (strcmp(special_forms[i], s) == 0) return 1;
    static const char *const ops[] = {"+", "-", "*", "/", "%", "<", "<=", ">", ">=", "=", "!=", "not",
                                      "get", "put!", "len", NULL};
    for (int i = 0; ops[i]; i++)
        if (strcmp(ops[i], s) == 0) return 1;
    return builtin_id(s) >= 0;
}

static void check_name(node *n, const char *what) {
    if (n->kind != N_SYM) cerr(n, "%s must be a name", what);
    if (is_reserved(n->s)) cerr(n, "'%s' is reserved and cannot be bound", n->s);
}

/* Declare a local; boxed when the first pass saw it captured and assigned. */
static int declare(fstate *fs, node *decl, int reg) {
    if (fs->nvars >= MAX_LOCALS) cerr(decl, "too many local variables");
    lvar *v = &fs->vars[fs->nvars++];
    v->name = decl->s;
    v->reg = reg;
    v->decl = decl;
    v->boxed = (decl->flags & (NF_CAPTURED | NF_ASSIGNED)) == (NF_CAPTURED | NF_ASSIGNED);
    fs->isvar[reg] = 1;
    return v->boxed;
}

/* ---- expressions ---- */
static void expr(fstate *fs, node *n, int dst);
static void body(fstate *fs, node **items, int count, int dst, node *where);
static void block(fstate *fs, node **items, int count, int dst, node *where);

/* A register holding n's value: a plain local's own register, or a fresh temp. */
static int expr_reg(fstate *fs, node *n) {
    if (n->kind == N_SYM) {
        int li = find_local(fs, n->s);
        if (li >= 0 && !fs->vars[li].boxed) return fs->vars[li].reg;
    }
    int r = newreg(fs, n);
    expr(fs, n, r);
    return r;
}

static void load_var(fstate *fs, node *n, int dst) {
    resolved r = resolve(fs, n->s, n);
    switch (r.kind) {
    case R_LOCAL:
        if (r.boxed) emit(fs, OP_BOXGET, dst, r.index, 0);
        else if (r.index != dst) emit(fs, OP_MOV, dst, r.index, 0);
        break;
    case R_UP: emit(fs, r.boxed ? OP_UGETBOX : OP_UGET, dst, r.index, 0); break;
    default: emit(fs, OP_GGET, dst, r.index, 0); break;
    }
}

static void compile_fn(fstate *fs, node *params, node **bodyv, int nbody, int dst, const char *name, node *where);

static void expect_args(node *n, int lo, int hi) {
    int argc = n->n - 1;
    if (argc < lo || (hi >= 0 && argc > hi)) {
        if (lo == hi) cerr(n, "'%s' takes %d argument%s, got %d", n->items[0]->s, lo, lo == 1 ? "" : "s", argc);
        if (hi < 0) cerr(n, "'%s' takes at least %d arguments, got %d", n->items[0]->s, lo, argc);
        cerr(n, "'%s' takes %d to %d arguments, got %d", n->items[0]->s, lo, hi, argc);
    }
}

static void binop(fstate *fs, node *n, int op, int dst) {
    int save = fs->nreg;
    if (n->n == 2 && op == OP_SUB) {
        int b = expr_reg(fs, n->items[1]);
        setpos(fs, n);
        emit(fs, OP_NEG, dst, b, 0);
        fs->nreg = save;
        return;
    }
    int variadic = op == OP_ADD || op == OP_MUL || op == OP_SUB;
    if (variadic ? n->n < 3 : n->n != 3) {
        if (variadic) cerr(n, "'%s' takes at least 2 arguments, got %d", n->items[0]->s, n->n - 1);
        cerr(n, "'%s' takes 2 arguments, got %d", n->items[0]->s, n->n - 1);
    }
    int acc = expr_reg(fs, n->items[1]);
    for (int i = 2; i < n->n; i++) {
        int b = expr_reg(fs, n->items[i]);
        setpos(fs, n);
        int out = i == n->n - 1 ? dst : newreg(fs, n);
        int at = emit(fs, op, out, acc, b);
        fs->code[at].x = (uint8_t)((fs->intreg[acc] ? 1 : 0) | (fs->intreg[b] ? 2 : 0));
        /* consumed: a partial result or operand nothing reads again */
        if (acc >= save) fs->deadreg[acc] = 1;
        if (b >= save) fs->deadreg[b] = 1;
        fs->deadreg[out] = 0;
        acc = out;
    }
    fs->nreg = save;
}

static void compile_call(fstate *fs, node *n, int dst) {
    int save = fs->nreg;
    int a = newreg(fs, n);
    expr(fs, n->items[0], a);
    for (int i = 1; i < n->n; i++) {
        int r = newreg(fs, n->items[i]);
        expr(fs, n->items[i], r);
    }
    if (n->n - 1 > 255) cerr(n, "too many arguments (more than 255)");
    setpos(fs, n);
    note_dead(fs, emit(fs, OP_CALL, a, n->n - 1, 0), a);
    if (dst != a) emit(fs, OP_MOV, dst, a, 0);
    fs->nreg = save;
}

static void compile_builtin(fstate *fs, node *n, int id, int dst) {
    const vm_builtin_info *bi = &vm_builtins[id];
    expect_args(n, bi->min_args, bi->max_args);
    int save = fs->nreg;
    int base = fs->nreg;
    for (int i = 1; i < n->n; i++) {
        int r = newreg(fs, n->items[i]);
        expr(fs, n->items[i], r);
    }
    if (n->n - 1 > 255) cerr(n, "too many arguments (more than 255)");
    setpos(fs, n);
    int at = emit(fs, OP_BUILTIN, dst, id, base);
    fs->code[at].x = (uint8_t)(n->n - 1);
    note_dead(fs, at, base + n->n - 1);
    fs->nreg = save;
}

static void assign(fstate *fs, node *n, int dst); /* dst -1: the value is not needed */

/* Whether compiling n into dst writes dst only once, as its last step (so
 * n's operands still read a local that dst is): constants, names, calls,
 * builtins and operators (their operands go to fresh registers).  Not the
 * forms that put intermediate values into dst: do, let, if, when, unless,
 * cond, and, or, loops, set!, def. */
static int writes_dst_last(fstate *fs, node *n) {
    if (n->kind != N_LIST) return 1;
    if (n->n == 0 || n->items[0]->kind != N_SYM || find_local(fs, n->items[0]->s) >= 0) return 1;
    static const char *const seq[] = {"do", "let", "if", "when", "unless", "cond", "and", "or",
                                      "while", "for", "set!", "def", "defn", NULL};
    for (int i = 0; seq[i]; i++)
        if (!strcmp(n->items[0]->s, seq[i])) return 0;
    return 1;
}
static void assign(fstate *fs, node *n, int dst) {
    expect_args(n, 2, 2);
    node *target = n->items[1];
    int save = fs->nreg;
    if (target->kind == N_LIST && target->n == 3 && target->items[0]->kind == N_SYM &&
        strcmp(target->items[0]->s, ".") == 0) {
        int fid = field_ref(target->items[2]);
        int o = expr_reg(fs, target->items[1]);
        int v = expr_reg(fs, n->items[2]);
        setpos(fs, n);
        emit(fs, OP_SETF, o, fid, v);
        if (v != dst && dst >= 0) emit(fs, OP_MOV, dst, v, 0);
        fs->nreg = save;
        return;
    }
    if (target->kind != N_SYM) cerr(target, "set! needs a name or a field (obj.field)");
    if (is_reserved(target->s)) cerr(target, "cannot assign to '%s'", target->s);
    resolved r = resolve(fs, target->s, target);
    if (r.decl) r.decl->flags |= NF_ASSIGNED;
    if (r.kind == R_LOCAL && !r.boxed) {
        /* straight into the local's register only when nothing reads the
         * local after the register is first written */
        int v = writes_dst_last(fs, n->items[2]) ? r.index : newreg(fs, n);
        expr(fs, n->items[2], v);
        if (v != r.index) emit(fs, OP_MOV, r.index, v, 0);
        if (r.index != dst && dst >= 0) emit(fs, OP_MOV, dst, r.index, 0);
        fs->nreg = save;
        return;
    }
    int v = expr_reg(fs, n->items[2]);
    setpos(fs, n);
    if (r.kind == R_LOCAL) emit(fs, OP_BOXSET, r.index, v, 0);
    else if (r.kind == R_UP) {
        if (!r.boxed && C->pass == 2) cerr(target, "internal: assigned capture not boxed");
        emit(fs, OP_USETBOX, v, r.index, 0);
    } else emit(fs, OP_GSET, v, r.index, 0);
    if (v != dst && dst >= 0) emit(fs, OP_MOV, dst, v, 0);
    fs->nreg = save;
}

/* (def name e) inside a block: a new local from here to the block's end. */
static void local_def(fstate *fs, node *n, int dst, int is_fn) {
    node *name = n->items[1];
    if (is_fn) {
        /* declared by predeclare() at the start of the body */
        int li = find_local(fs, name->s);
        if (li < 0 || fs->vars[li].decl != name) cerr(n, "internal: defn not predeclared");
        int reg = fs->vars[li].reg;
        int save = fs->nreg;
        if (fs->vars[li].boxed) {
            int t = newreg(fs, n);
            compile_fn(fs, n->items[2], n->items + 3, n->n - 3, t, name->s, n);
            emit(fs, OP_BOXSET, reg, t, 0);
            emit(fs, OP_MOV, dst, t, 0);
            fs->nreg = save;
        } else {
            compile_fn(fs, n->items[2], n->items + 3, n->n - 3, reg, name->s, n);
            if (dst != reg) emit(fs, OP_MOV, dst, reg, 0);
        }
        return;
    }
    int reg = newreg(fs, name);
    if (n->n == 3) expr(fs, n->items[2], reg);
    else emit(fs, OP_KNIL, reg, 0, 0);
    int boxed = declare(fs, name, reg);
    if (boxed) {
        if (dst != reg) emit(fs, OP_MOV, dst, reg, 0);
        emit(fs, OP_BOX, reg, 0, 0);
    } else if (dst != reg) {
        emit(fs, OP_MOV, dst, reg, 0);
    }
}

static int is_sym(node *n, const char *s) { return n->kind == N_SYM && strcmp(n->s, s) == 0; }

static void compile_list(fstate *fs, node *n, int dst) {
    if (n->n == 0) cerr(n, "empty form ()");
    node *h = n->items[0];
    setpos(fs, n);
    if (h->kind == N_SYM && find_local(fs, h->s) < 0) {
        const char *s = h->s;
        int save = fs->nreg;
        if (!strcmp(s, "def") || !strcmp(s, "defn")) {
            int isfn = s[3] == 'n';
            if (isfn ? n->n < 4 : (n->n != 3 && n->n != 2)) cerr(n, isfn ? "(defn name (params) body...) expected" : "(def name value) expected");
            check_name(n->items[1], "what def defines");
            if (fs->toplevel && fs->blockdepth == 0) {
                int g = global_index(n->items[1]->s);
                int t = newreg(fs, n);
                if (isfn) compile_fn(fs, n->items[2], n->items + 3, n->n - 3, t, n->items[1]->s, n);
                else if (n->n == 3) expr(fs, n->items[2], t);
                else emit(fs, OP_KNIL, t, 0, 0);
                setpos(fs, n);
                emit(fs, OP_GSET, t, g, 0);
                emit(fs, OP_MOV, dst, t, 0);
                fs->nreg = save;
            } else {
                local_def(fs, n, dst, isfn);
            }
            return;
        }
        if (!strcmp(s, "fn") || !strcmp(s, "lambda")) {
            if (n->n < 3) cerr(n, "(fn (params) body...) expected");
            compile_fn(fs, n->items[1], n->items + 2, n->n - 2, dst, "lambda", n);
            return;
        }
        if (!strcmp(s, "let")) {
            if (n->n < 3 || n->items[1]->kind != N_LIST) cerr(n, "(let ((name value) ...) body...) expected");
            int nv = fs->nvars;
            fs->blockdepth++;
            node *bs = n->items[1];
            for (int i = 0; i < bs->n; i++) {
                node *b = bs->items[i];
                if (b->kind != N_LIST || b->n != 2) cerr(b, "let binding must be (name value)");
                check_name(b->items[0], "a let binding");
                int reg = newreg(fs, b);
                expr(fs, b->items[1], reg);
                if (declare(fs, b->items[0], reg)) emit(fs, OP_BOX, reg, 0, 0);
            }
            body(fs, n->items + 2, n->n - 2, dst, n);
            fs->blockdepth--;
            fs->nvars = nv;
            fs->nreg = save;
            return;
        }
        if (!strcmp(s, "set!")) { assign(fs, n, dst); return; }
        if (!strcmp(s, "if")) {
            if (n->n != 3 && n->n != 4) cerr(n, "(if test then else?) expected");
            int c = expr_reg(fs, n->items[1]);
            int jf = emit_test_jump(fs, OP_JF, c, save);
            fs->nreg = save;
            expr(fs, n->items[2], dst);
            int jend = emitj(fs, OP_JMP, 0, 0);
            patch(fs, jf);
            if (n->n == 4) expr(fs, n->items[3], dst);
            else emit(fs, OP_KNIL, dst, 0, 0);
            patch(fs, jend);
            return;
        }
        if (!strcmp(s, "when") || !strcmp(s, "unless")) {
            if (n->n < 2) cerr(n, "(%s test body...) expected", s);
            int c = expr_reg(fs, n->items[1]);
            int jf = emit_test_jump(fs, s[0] == 'w' ? OP_JF : OP_JT, c, save);
            fs->nreg = save;
            block(fs, n->items + 2, n->n - 2, dst, n);
            int jend = emitj(fs, OP_JMP, 0, 0);
            patch(fs, jf);
            emit(fs, OP_KNIL, dst, 0, 0);
            patch(fs, jend);
            return;
        }
        if (!strcmp(s, "cond")) {
            int jends[256], nj = 0;
            for (int i = 1; i < n->n; i++) {
                node *cl = n->items[i];
                if (cl->kind != N_LIST || cl->n < 1) cerr(cl, "cond clause must be (test body...)");
                if (nj >= 255) cerr(cl, "too many cond clauses");
                if (is_sym(cl->items[0], "else")) {
                    block(fs, cl->items + 1, cl->n - 1, dst, cl);
                    for (int k = 0; k < nj; k++) patch(fs, jends[k]);
                    return;
                }
                int c = expr_reg(fs, cl->items[0]);
                int jf = cl->n == 1 ? emitj(fs, OP_JF, c, 0) : emit_test_jump(fs, OP_JF, c, save);
                fs->nreg = save;
                if (cl->n == 1) emit(fs, OP_MOV, dst, c, 0);
                else block(fs, cl->items + 1, cl->n - 1, dst, cl);
                jends[nj++] = emitj(fs, OP_JMP, 0, 0);
                patch(fs, jf);
            }
            emit(fs, OP_KNIL, dst, 0, 0);
            for (int k = 0; k < nj; k++) patch(fs, jends[k]);
            return;
        }
        if (!strcmp(s, "while")) {
            if (n->n < 2) cerr(n, "(while test body...) expected");
            int top = fs->n;
            int c = expr_reg(fs, n->items[1]);
            int jf = emit_test_jump(fs, OP_JF, c, save);
            fs->nreg = save;
            int t = newreg(fs, n);
            int od = fs->discard;
            fs->discard = t;
            block(fs, n->items + 2, n->n - 2, t, n);
            fs->discard = od;
            setpos(fs, n);
            emitj(fs, OP_JMP, 0, top);
            patch(fs, jf);
            emit(fs, OP_KNIL, dst, 0, 0);
            fs->nreg = save;
            return;
        }
        if (!strcmp(s, "for")) {
            node *spec = n->n >= 2 ? n->items[1] : NULL;
            if (!spec || spec->kind != N_LIST || spec->n < 3 || spec->n > 4)
                cerr(n, "(for (name from below step?) body...) expected");
            check_name(spec->items[0], "a for variable");
            int64_t step = 1;
            if (spec->n == 4) {
                if (spec->items[3]->kind != N_INT || spec->items[3]->i == 0 || spec->items[3]->i > 1000000000 ||
                    spec->items[3]->i < -1000000000)
                    cerr(spec->items[3], "for step must be a non-zero integer literal");
                step = spec->items[3]->i;
            }
            int nv = fs->nvars;
            int i = newreg(fs, spec);
            expr(fs, spec->items[1], i);
            int lim = newreg(fs, spec);
            expr(fs, spec->items[2], lim);
            setpos(fs, n);
            emit(fs, OP_CHKINT, i, 0, 0);
            emit(fs, OP_CHKINT, lim, 0, 0);
            int boxed = declare(fs, spec->items[0], i);
            int plain = !boxed && !(spec->items[0]->flags & NF_ASSIGNED);
            uint8_t oldi = fs->intreg[i], oldl = fs->intreg[lim];
            fs->intreg[i] = (uint8_t)plain;
            fs->intreg[lim] = 1;
            int cur = i;
            if (boxed) {
                emit(fs, OP_BOX, i, 0, 0);
                cur = newreg(fs, spec);
            }
            int cond = newreg(fs, spec);
            int stepr = newreg(fs, spec);
            int top = fs->n;
            if (boxed) emit(fs, OP_BOXGET, cur, i, 0);
            setpos(fs, n);
            int cmp = emit(fs, step > 0 ? OP_LT : OP_GT, cond, cur, lim);
            fs->code[cmp].x = (uint8_t)(plain ? 3 : 2);
            int jf = emitj(fs, OP_JF, cond, 0);
            fs->code[jf].x = 1;
            int t = newreg(fs, n);
            int od = fs->discard;
            fs->discard = t;
            block(fs, n->items + 2, n->n - 2, t, n);
            fs->discard = od;
            setpos(fs, n);
            emitj(fs, OP_KINT, stepr, (int32_t)step);
            if (boxed) {
                emit(fs, OP_BOXGET, cur, i, 0);
                emit(fs, OP_ADD, cur, cur, stepr);
                emit(fs, OP_BOXSET, i, cur, 0);
            } else {
                int add = emit(fs, OP_ADD, i, i, stepr);
                fs->code[add].x = (uint8_t)(plain ? 1 : 0);
            }
            emitj(fs, OP_JMP, 0, top);
            patch(fs, jf);
            fs->intreg[i] = oldi;
            fs->intreg[lim] = oldl;
            emit(fs, OP_KNIL, dst, 0, 0);
            fs->nvars = nv;
            fs->nreg = save;
            return;
        }
        if (!strcmp(s, "do")) {
            block(fs, n->items + 1, n->n - 1, dst, n);
            return;
        }
        if (!strcmp(s, "and") || !strcmp(s, "or")) {
            if (n->n == 1) {
                emit(fs, s[0] == 'a' ? OP_KTRUE : OP_KFALSE, dst, 0, 0);
                return;
            }
            int js[256], nj = 0;
            if (n->n > 256) cerr(n, "too many operands");
            for (int i = 1; i < n->n; i++) {
                expr(fs, n->items[i], dst);
                if (i < n->n - 1) js[nj++] = emitj(fs, s[0] == 'a' ? OP_JF : OP_JT, dst, 0);
            }
            for (int k = 0; k < nj; k++) patch(fs, js[k]);
            return;
        }
        if (!strcmp(s, "record")) {
            if (!fs->toplevel || fs->blockdepth) cerr(n, "record types are declared at the top level");
            if (n->n != 3 || n->items[2]->kind != N_LIST) cerr(n, "(record name (field ...)) expected");
            check_name(n->items[1], "a record name");
            if (C->pass == 1) {
                if (find_rtype(n->items[1]->s) >= 0) cerr(n->items[1], "record '%s' declared twice", n->items[1]->s);
                node *fl = n->items[2];
                if (fl->n > 1000) cerr(fl, "too many fields");
                for (int i = 0; i < fl->n; i++) {
                    if (fl->items[i]->kind != N_SYM || strchr(fl->items[i]->s, '.'))
                        cerr(fl->items[i], "field name expected");
                    for (int k = 0; k < i; k++)
                        if (!strcmp(fl->items[k]->s, fl->items[i]->s)) cerr(fl->items[i], "field '%s' twice", fl->items[i]->s);
                }
                rtvm_program *p = C->p;
                if (p->nrtypes >= 1000) cerr(n, "too many record types");
                p->rtypes = xgrow(p->rtypes, &C->tcap, p->nrtypes + 1, sizeof(vm_rtype));
                vm_rtype *t = &p->rtypes[p->nrtypes++];
                t->name = xstrdup(n->items[1]->s);
                t->nfields = fl->n;
                t->fields = malloc(sizeof(int) * (size_t)(fl->n ? fl->n : 1));
                if (!t->fields) cerr(n, "out of memory while compiling");
                for (int i = 0; i < fl->n; i++) t->fields[i] = field_name(fl->items[i]->s, 1);
            }
            emit(fs, OP_KNIL, dst, 0, 0);
            return;
        }
        if (!strcmp(s, "new")) {
            if (n->n < 2 || n->items[1]->kind != N_SYM) cerr(n, "(new record-name field-values...) expected");
            int ti = find_rtype(n->items[1]->s);
            if (ti < 0 && C->pass == 2) cerr(n->items[1], "unknown record type '%s'", n->items[1]->s);
            vm_rtype *t = ti >= 0 ? &C->p->rtypes[ti] : NULL;
            if (t && n->n - 2 != t->nfields)
                cerr(n, "record '%s' has %d field%s, got %d value%s", t->name, t->nfields, t->nfields == 1 ? "" : "s",
                     n->n - 2, n->n - 2 == 1 ? "" : "s");
            int base = fs->nreg;
            for (int i = 2; i < n->n; i++) {
                int r = newreg(fs, n->items[i]);
                expr(fs, n->items[i], r);
            }
            setpos(fs, n);
            emit(fs, OP_NEWREC, dst, ti < 0 ? 0 : ti, base);
            fs->nreg = save;
            return;
        }
        if (!strcmp(s, ".")) {
            if (n->n != 3 || n->items[2]->kind != N_SYM) cerr(n, "(. object field) expected");
            int fid = field_ref(n->items[2]);
            int o = expr_reg(fs, n->items[1]);
            setpos(fs, n);
            emit(fs, OP_GETF, dst, o, fid);
            fs->nreg = save;
            return;
        }
        if (!strcmp(s, "return")) {
            if (n->n > 2) cerr(n, "(return value?) expected");
            int r;
            if (n->n == 2) r = expr_reg(fs, n->items[1]);
            else {
                r = newreg(fs, n);
                emit(fs, OP_KNIL, r, 0, 0);
            }
            emit(fs, OP_RET, r, 0, 0);
            fs->nreg = save;
            return;
        }
        static const struct { const char *name; int op; } ops[] = {
            {"+", OP_ADD}, {"-", OP_SUB}, {"*", OP_MUL}, {"/", OP_DIV}, {"%", OP_MOD}, {"<", OP_LT},
            {"<=", OP_LE}, {">", OP_GT}, {">=", OP_GE}, {"=", OP_EQ}, {"!=", OP_NE}};
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
            if (!strcmp(s, ops[k].name)) {
                binop(fs, n, ops[k].op, dst);
                return;
            }
        if (!strcmp(s, "not") || !strcmp(s, "len")) {
            expect_args(n, 1, 1);
            int b = expr_reg(fs, n->items[1]);
            setpos(fs, n);
            emit(fs, s[0] == 'n' ? OP_NOT : OP_LEN, dst, b, 0);
            fs->nreg = save;
            return;
        }
        if (!strcmp(s, "get")) {
            expect_args(n, 2, 2);
            int b = expr_reg(fs, n->items[1]);
            int c = expr_reg(fs, n->items[2]);
            setpos(fs, n);
            emit(fs, OP_GET, dst, b, c);
            fs->nreg = save;
            return;
        }
        if (!strcmp(s, "put!")) {
            expect_args(n, 3, 3);
            int a = expr_reg(fs, n->items[1]);
            int b = expr_reg(fs, n->items[2]);
            int c = expr_reg(fs, n->items[3]);
            setpos(fs, n);
            emit(fs, OP_PUT, a, b, c);
            if (c != dst) emit(fs, OP_MOV, dst, c, 0);
            fs->nreg = save;
            return;
        }
        int bid = builtin_id(s);
        if (bid >= 0) {
            compile_builtin(fs, n, bid, dst);
            return;
        }
        if (!strcmp(s, "else")) cerr(h, "'else' outside cond");
    }
    compile_call(fs, n, dst);
}

static void expr_in(fstate *fs, node *n, int dst);
/* Compile n into dst: while it runs, dst's old content is dead; then dst
 * holds n's value [compile.dead]. */
static void expr(fstate *fs, node *n, int dst) {
    fs->deadreg[dst] = 1;
    expr_in(fs, n, dst);
    fs->deadreg[dst] = 0;
}

static void expr_in(fstate *fs, node *n, int dst) {
    switch (n->kind) {
    case N_INT:
        setpos(fs, n);
        if (n->i >= INT32_MIN && n->i <= INT32_MAX) {
            emitj(fs, OP_KINT, dst, (int32_t)n->i);
        } else {
            vm_const k = {.kind = C_INT, .i = n->i};
            emit(fs, OP_KCONST, dst, add_const(&k), 0);
        }
        return;
    case N_FLOAT: {
        setpos(fs, n);
        vm_const k = {.kind = C_FLOAT, .d = n->d};
        emit(fs, OP_KCONST, dst, add_const(&k), 0);
        return;
    }
    case N_STR: {
        setpos(fs, n);
        vm_const k = {.kind = C_STR, .s = (char *)n->s, .len = (size_t)n->n};
        emit(fs, OP_KCONST, dst, add_const(&k), 0);
        return;
    }
    case N_SYM:
        setpos(fs, n);
        if (!strcmp(n->s, "nil")) emit(fs, OP_KNIL, dst, 0, 0);
        else if (!strcmp(n->s, "true")) emit(fs, OP_KTRUE, dst, 0, 0);
        else if (!strcmp(n->s, "false")) emit(fs, OP_KFALSE, dst, 0, 0);
        else if (find_local(fs, n->s) < 0 && is_reserved(n->s)) cerr(n, "'%s' cannot be used as a value", n->s);
        else load_var(fs, n, dst);
        return;
    case N_LIST: compile_list(fs, n, dst); return;
    }
}

static int is_sym(node *n, const char *s);

/* (defn name ...) forms of a local body are declared before the body runs,
 * so that local functions can call each other (letrec semantics). */
static void predeclare(fstate *fs, node **items, int count) {
    if (fs->toplevel && fs->blockdepth == 0) return;
    for (int i = 0; i < count; i++) {
        node *d = items[i];
        if (d->kind != N_LIST || d->n < 4 || !is_sym(d->items[0], "defn") || find_local(fs, "defn") >= 0) continue;
        check_name(d->items[1], "what defn defines");
        d->items[1]->flags |= NF_ASSIGNED;
        int reg = newreg(fs, d);
        emit(fs, OP_KNIL, reg, 0, 0);
        if (declare(fs, d->items[1], reg)) emit(fs, OP_BOX, reg, 0, 0);
    }
}

static void body(fstate *fs, node **items, int count, int dst, node *where) {
    predeclare(fs, items, count);
    if (count == 0) {
        emit(fs, OP_KNIL, dst, 0, 0);
        return;
    }
    for (int i = 0; i < count; i++) {
        node *it = items[i];
        /* the statement before's value is dead [compile.dead] */
        fs->deadreg[dst] = 1;
        /* a set! statement directly in a loop body: its value goes nowhere */
        if (dst == fs->discard && it->kind == N_LIST && it->n == 3 && is_sym(it->items[0], "set!") &&
            find_local(fs, "set!") < 0) {
            setpos(fs, it);
            assign(fs, it, -1);
        } else {
            expr(fs, it, dst);
        }
    }
}

/* A body with its own scope: locals defined in it end with it. */
static void block(fstate *fs, node **items, int count, int dst, node *where) {
    int nv = fs->nvars, save = fs->nreg;
    fs->blockdepth++;
    body(fs, items, count, dst, where);
    fs->blockdepth--;
    fs->nvars = nv;
    fs->nreg = save;
}

static vm_func *new_func(const char *name) {
    rtvm_program *p = C->p;
    if (p->nfuncs >= 100000) cerr(NULL, "too many functions");
    p->funcs = xgrow(p->funcs, &C->fcap, p->nfuncs + 1, sizeof(vm_func *));
    vm_func *f = calloc(1, sizeof *f);
    if (!f) cerr(NULL, "out of memory while compiling");
    f->name = xstrdup(name);
    f->index = p->nfuncs;
    p->funcs[p->nfuncs++] = f;
    return f;
}

static void finish_func(fstate *fs) {
    vm_func *f = fs->f;
    f->code = fs->code;
    f->pos = fs->pos;
    f->dead = fs->dead;
    f->dead_regs = fs->pool;
    f->ninsns = fs->n;
    f->nregs = fs->maxreg;
    f->nups = fs->nups;
    f->up_src = malloc(sizeof(uint16_t) * (size_t)(fs->nups ? fs->nups : 1));
    if (!f->up_src) cerr(NULL, "out of memory while compiling");
    for (int i = 0; i < fs->nups; i++) f->up_src[i] = fs->ups[i].src;
}

/* Function states are on the compiler's live list until finished, so an
 * error (a longjmp) frees them and their half-built code. */
static fstate *fs_new(void) {
    fstate *fs = calloc(1, sizeof *fs);
    if (!fs) cerr(NULL, "out of memory while compiling");
    fs->discard = -2;
    fs->live_next = C->live;
    C->live = fs;
    return fs;
}
static void fs_done(fstate *fs) {
    /* the code now belongs to the vm_func (finish_func) */
    C->live = fs->live_next;
    free(fs);
}
static void fs_free_live(comp *cs) {
    while (cs->live) {
        fstate *fs = cs->live;
        cs->live = fs->live_next;
        free(fs->code);
        free(fs->pos);
        free(fs->dead);
        free(fs->pool);
        free(fs);
    }
}

static void compile_fn(fstate *fs, node *params, node **bodyv, int nbody, int dst, const char *name, node *where) {
    if (params->kind != N_LIST) cerr(params, "parameter list expected");
    if (params->n > 255) cerr(params, "too many parameters (more than 255)");
    fstate *nf = fs_new();
    nf->parent = fs;
    nf->f = new_func(name);
    nf->f->nparams = params->n;
    nf->curpos = fs->curpos;
    for (int i = 0; i < params->n; i++) {
        check_name(params->items[i], "a parameter");
        for (int k = 0; k < i; k++)
            if (!strcmp(params->items[k]->s, params->items[i]->s))
                cerr(params->items[i], "parameter '%s' twice", params->items[i]->s);
        int r = newreg(nf, params->items[i]);
        if (declare(nf, params->items[i], r)) emit(nf, OP_BOX, r, 0, 0);
    }
    int res = newreg(nf, where);
    body(nf, bodyv, nbody, res, where);
    emit(nf, OP_RET, res, 0, 0);
    finish_func(nf);
    int fi = nf->f->index;
    fs_done(nf);
    setpos(fs, where);
    emit(fs, OP_CLOSURE, dst, fi, 0);
}

/* ---- program ---- */
static void free_funcs(rtvm_program *p) {
    for (int i = 0; i < p->nfuncs; i++) {
        vm_func *f = p->funcs[i];
        free(f->name);
        free(f->code);
        free(f->pos);
        free(f->dead);
        free(f->dead_regs);
        free(f->up_src);
        free(f);
    }
    free(p->funcs);
    p->funcs = NULL;
    p->nfuncs = 0;
    if (C) C->fcap = 0;
}

void vm_program_free(rtvm_program *p) {
    if (!p) return;
    jit_free_all(p);
    free_funcs(p);
    for (int i = 0; i < p->nconsts; i++) free(p->consts[i].s);
    free(p->consts);
    for (int i = 0; i < p->nglobals; i++) free(p->globals[i]);
    free(p->globals);
    for (int i = 0; i < p->nrtypes; i++) {
        free(p->rtypes[i].name);
        free(p->rtypes[i].fields);
    }
    free(p->rtypes);
    for (int i = 0; i < p->nfnames; i++) free(p->fnames[i]);
    free(p->fnames);
    free(p->fidx);
    free(p->file);
    pthread_mutex_destroy(&p->jit_lock);
    free(p);
}

static void compile_main(node *prog) {
    fstate *fs = fs_new();
    fs->f = new_func("<top>");
    fs->toplevel = 1;
    int res = newreg(fs, prog);
    body(fs, prog->items, prog->n, res, prog);
    emit(fs, OP_RET, res, 0, 0);
    finish_func(fs);
    fs_done(fs);
}

rtvm_program *vm_compile(rtgc_heap *heap, const char *name, const char *src, const rtvm_options *o, char *err,
                         size_t errlen) {
    rtvm_program *volatile p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "%s:1:1: out of memory", name);
        return NULL;
    }
    pthread_mutex_init(&p->jit_lock, NULL);
    p->file = strdup(name);
    p->heap = heap;
    if (o) p->opt = *o;
    else rtvm_options_init(&p->opt);
    reader r = {0};
    jmp_buf jb;
    r.file = name;
    r.src = r.p = src;
    r.line = r.col = 1;
    r.jb = &jb;
    r.err = err;
    r.errlen = errlen;
    comp cs = {0};
    cs.r = &r;
    cs.p = p;
    pthread_mutex_lock(&cmp_lock);
    C = &cs;
    if (setjmp(jb)) {
        fs_free_live(&cs);
        C = NULL;
        pthread_mutex_unlock(&cmp_lock);
        arena_free(&r);
        vm_program_free(p);
        return NULL;
    }
    node *prog = read_program(&r);
    cs.pass = 1;
    compile_main(prog);
    /* second pass: the tables (globals, record types, constants) are kept,
     * the code is made again with the boxing decisions of the first pass */
    free_funcs(p);
    cs.pass = 2;
    compile_main(prog);
    p->main_fn = 0;
    C = NULL;
    pthread_mutex_unlock(&cmp_lock);
    arena_free(&r);
    /* the field table */
    int nn = p->nfnames ? p->nfnames : 1;
    p->fidx = malloc(sizeof(int16_t) * (size_t)nn * (size_t)(p->nrtypes ? p->nrtypes : 1));
    if (!p->fidx) {
        snprintf(err, errlen, "%s:1:1: out of memory", name);
        vm_program_free(p);
        return NULL;
    }
    for (int t = 0; t < p->nrtypes; t++) {
        for (int k = 0; k < nn; k++) p->fidx[t * nn + k] = -1;
        for (int i = 0; i < p->rtypes[t].nfields; i++) p->fidx[t * nn + p->rtypes[t].fields[i]] = (int16_t)i;
    }
    return p;
}

const char *const vm_op_names[OP_COUNT] = {
#define X(n) #n,
    OPS(X)
#undef X
};

void vm_disasm(rtvm_program *p, vm_func *f, FILE *out) {
    fprintf(out, "function %s (params %d, registers %d, upvalues %d)\n", f->name, f->nparams, f->nregs, f->nups);
    for (int i = 0; i < f->ninsns; i++) {
        insn *in = &f->code[i];
        fprintf(out, "  %4d  %-8s a=%d b=%d c=%d j=%d  ; %u:%u\n", i, vm_op_names[in->op], in->a, in->b, in->c,
                in->j, f->pos[i] >> 12, f->pos[i] & 4095);
    }
}
