/* gc/model/marking.pml - a model of the real-time marking protocol
 * (gc/cycle.c, gc/handshake.c, barriers/include/rtgc/barrier.h,
 * barriers/slow.c, gc/mark.c shade/grey_flush), checked with SPIN.
 *
 *   sh gc/model/check.sh          the model, and the variants that must fail
 *
 * What is modelled (gc/DESIGN.md, "The checked model of marking"):
 *
 *   heap        NOBJ object slots, each allocated or free, with NF reference
 *               fields, a mark bit (the epoch flip is "every mark cleared"
 *               once the previous sweep is done, [sweep.epoch]) and one
 *               global root slot G (a registered range, read with rtgc_load
 *               and written with rtgc_store, [rt.invariant]).
 *   mutators    NMUT threads, each with NREG registers (its frames and
 *               handles) and its state bits MARKING, STORE and its
 *               allocation colour.  Between any two operations a thread may
 *               serve a pending handshake (a safepoint; a blocked thread
 *               served by the collector is the same interleaving).
 *               Operations: allocate into a register (black once its roots
 *               are scanned, white before), copy or clear a register, load
 *               a field or G into a register (the slot is read, then the
 *               load barrier shades the value while MARKING: two steps, as
 *               in rtgc_load), store a register or NULL into a field or G
 *               (the slot is written, then the STORE bit shades the value:
 *               two steps, as in rtgc_store).
 *   shading     claim the mark (a CAS), count it, push to the thread's
 *               grey buffer; a full buffer may be flushed to the shared
 *               grey list at any shade (GREY_CAP), uncounted by termination.
 *   collector   one cycle after another: flip; MARK_ON round (MARKING and
 *               STORE on); ROOTS round (shade registers, black allocation,
 *               STORE off, flush); the global slot, after every thread;
 *               trace (pop a grey object, read each field and mark what it
 *               refers to, each field a step of its own); TERMINATE rounds
 *               (flush every buffer; again while a buffer was not empty, a
 *               grey object was left or a thread shaded during the round,
 *               [rt.termination]); condemn every unmarked allocated object;
 *               MARK_OFF round; sweep: free the condemned objects one at a
 *               time while the mutators run.  A round posts its handshake
 *               to one thread after the other and waits until all served.
 *
 * The property, asserted as each object is freed: the object is not
 * reachable from any register of any mutator or from G, directly or through
 * the fields of allocated objects.  (An object freed while reachable is a
 * use after free the moment a mutator follows the reference.)
 *
 * Variants (each must produce a counterexample; check.sh expects it):
 *   -DNO_LOAD_BARRIER    rtgc_load does not shade (make BREAK=load)
 *   -DNO_STORE_BARRIER   rtgc_store does not shade while STORE is on
 */

#ifndef NOBJ
#define NOBJ 3
#endif
#ifndef NF
#define NF 2
#endif
#ifndef NCYCLES
#define NCYCLES 2
#endif
#ifndef NREG
#define NREG 2
#endif
#define NMUT 2
#define NIL NOBJ

/* handshakes */
#define HS_NONE 0
#define HS_MARK_ON 1
#define HS_ROOTS 2
#define HS_FLUSH 3
#define HS_MARK_OFF 4

bool alloc[NOBJ];
bool mark[NOBJ];
bool condemned[NOBJ];
byte field[NOBJ * NF];
byte G = NIL;

bool grey[NOBJ];              /* the mark stack and the shared grey list */
bool gbuf[NMUT * NOBJ];       /* each thread's grey buffer */
bool shaded;                  /* a mutator shaded since the round began (shade_count moved) */
bool flushed;                 /* a flush handshake found a non-empty buffer (term_flushed) */

byte reg[NMUT * NREG];
bool marking[NMUT];
bool storeb[NMUT];
bool black[NMUT];
byte hs[NMUT];                /* the pending handshake, HS_NONE when served */

byte reach[NOBJ];          /* scratch for the property, kept at 0 between steps */
byte ri, rk, rn;             /* scratch indices, likewise */
byte hne;

/* ---- shading, by a mutator ---- */

inline flush_buf(t) {
    rn = 0;
    do
    :: rn < NOBJ -> if :: gbuf[t * NOBJ + rn] -> grey[rn] = 1; gbuf[t * NOBJ + rn] = 0 :: else -> skip fi; rn++
    :: else -> break
    od;
    rn = 0
}

inline buf_nonempty(t, res) {
    res = 0; rn = 0;
    do
    :: rn < NOBJ -> res = res || gbuf[t * NOBJ + rn]; rn++
    :: else -> break
    od;
    rn = 0
}

inline shade(t, v) {
    if
    :: v != NIL && !mark[v] ->
        mark[v] = 1; shaded = 1; gbuf[t * NOBJ + v] = 1;
        if
        :: true -> skip
        :: true -> flush_buf(t)          /* the buffer was full */
        fi
    :: else -> skip
    fi
}

/* ---- handshakes, served by the thread at a safepoint ---- */

inline serve(t) {
    if
    :: hs[t] == HS_MARK_ON ->
        marking[t] = 1; storeb[t] = 1
    :: hs[t] == HS_ROOTS ->
        ri = 0;
        do
        :: ri < NREG -> shade(t, reg[t * NREG + ri]); ri++
        :: else -> break
        od;
        ri = 0;
        black[t] = 1; storeb[t] = 0;
        flush_buf(t)
    :: hs[t] == HS_FLUSH ->
        buf_nonempty(t, hne);
        if :: hne -> flushed = 1 :: else -> skip fi;
        hne = 0;
        flush_buf(t)
    :: hs[t] == HS_MARK_OFF ->
        marking[t] = 0; storeb[t] = 0; black[t] = 0;
        flush_buf(t)
    fi;
    hs[t] = HS_NONE
}

/* ---- the mutators ---- */

/* An object a register refers to; blocks (as a whole, so it may begin an
 * atomic sequence) when every register is NULL. */
inline pick_obj(t, o) {
    if
    :: reg[t * NREG + 0] != NIL -> o = reg[t * NREG + 0]
#if NREG > 1
    :: reg[t * NREG + 1] != NIL -> o = reg[t * NREG + 1]
#endif
    fi
}

proctype mutator(byte t) {
    byte i, j, k, o, v;
end:
    do
    :: atomic { hs[t] != HS_NONE -> serve(t) }
    :: atomic {                                        /* allocate into a register */
        select(i : 0 .. NREG - 1);
        o = 0;
        do
        :: o < NOBJ && (alloc[o] || condemned[o]) -> o++
        :: else -> break
        od;
        if
        :: o < NOBJ ->
            alloc[o] = 1; mark[o] = black[t];
            k = 0;
            do :: k < NF -> field[o * NF + k] = NIL; k++ :: else -> break od;
            reg[t * NREG + i] = o
        :: else -> skip                                /* heap full */
        fi;
        i = 0; k = 0; o = 0
       }
    :: atomic {                                        /* copy or clear a register */
        select(i : 0 .. NREG - 1);
        select(j : 0 .. NREG);
        reg[t * NREG + i] = (j < NREG -> reg[t * NREG + j] : NIL);
        i = 0; j = 0
       }
    :: atomic {                                        /* load a field: read the slot ... */
        pick_obj(t, o);
        select(k : 0 .. NF - 1);
        select(i : 0 .. NREG - 1);
        v = field[o * NF + k];
        k = 0; o = 0
       };
       atomic {                                        /* ... then the load barrier */
#ifndef NO_LOAD_BARRIER
        if :: marking[t] -> shade(t, v) :: else -> skip fi;
#endif
        reg[t * NREG + i] = v;
        i = 0; v = 0
       }
    :: atomic {                                        /* load the global slot */
        select(i : 0 .. NREG - 1);
        v = G
       };
       atomic {
#ifndef NO_LOAD_BARRIER
        if :: marking[t] -> shade(t, v) :: else -> skip fi;
#endif
        reg[t * NREG + i] = v;
        i = 0; v = 0
       }
    :: atomic {                                        /* store into a field: write the slot ... */
        pick_obj(t, o);
        select(k : 0 .. NF - 1);
        select(j : 0 .. NREG);
        v = (j < NREG -> reg[t * NREG + j] : NIL);
        field[o * NF + k] = v;
        j = 0; k = 0; o = 0
       };
       atomic {                                        /* ... then the STORE bit's shade */
#ifndef NO_STORE_BARRIER
        if :: storeb[t] -> shade(t, v) :: else -> skip fi;
#endif
        v = 0
       }
    :: atomic {                                        /* store into the global slot */
        select(j : 0 .. NREG);
        v = (j < NREG -> reg[t * NREG + j] : NIL);
        G = v;
        j = 0
       };
       atomic {
#ifndef NO_STORE_BARRIER
        if :: storeb[t] -> shade(t, v) :: else -> skip fi;
#endif
        v = 0
       }
    od
}

/* ---- the collector ---- */

inline post(kind) {
    hs[0] = kind;
    hs[1] = kind
}

inline wait_round() {
    hs[0] == HS_NONE && hs[1] == HS_NONE
}

/* The collector's mark: claim and push onto the mark stack. */
inline cmark(v) {
    if
    :: v != NIL && !mark[v] -> mark[v] = 1; grey[v] = 1
    :: else -> skip
    fi
}

inline any_grey(res) {
    res = 0; rn = 0;
    do
    :: rn < NOBJ -> res = res || grey[rn]; rn++
    :: else -> break
    od;
    rn = 0
}

/* Is object x reachable from a register or G?  (A fixed point over the
 * fields of allocated objects.) */
inline reachable(x, res) {
    ri = 0;
    do :: ri < NOBJ -> reach[ri] = 0; ri++ :: else -> break od;
    ri = 0;
    do :: ri < NMUT * NREG -> if :: reg[ri] != NIL -> reach[reg[ri]] = 1 :: else -> skip fi; ri++ :: else -> break od;
    if :: G != NIL -> reach[G] = 1 :: else -> skip fi;
    rn = 0;
    do
    :: rn < NOBJ ->
        ri = 0;
        do
        :: ri < NOBJ ->
            if
            :: reach[ri] && alloc[ri] ->
                rk = 0;
                do
                :: rk < NF -> if :: field[ri * NF + rk] != NIL -> reach[field[ri * NF + rk]] = 1 :: else -> skip fi; rk++
                :: else -> break
                od
            :: else -> skip
            fi;
            ri++
        :: else -> break
        od;
        rn++
    :: else -> break
    od;
    res = reach[x];
    ri = 0; rk = 0; rn = 0;
    do :: ri < NOBJ -> reach[ri] = 0; ri++ :: else -> break od;
    ri = 0
}

proctype collector() {
    byte o, k, v, cycles;
    bool more;
end:
    do
    :: cycles == NCYCLES -> break
    :: cycles < NCYCLES ->
        /* SWEEP is done: flip the epoch (every mark reads white), drop
         * grey hand-overs left from the last cycle. */
        d_step {
            o = 0;
            do :: o < NOBJ -> mark[o] = 0; grey[o] = 0; o++ :: else -> break od;
            o = 0
        };
        post(HS_MARK_ON);
        wait_round();
        post(HS_ROOTS);
        wait_round();
        d_step { cmark(G) };                           /* global roots, after every thread */
tracing:
        skip;
        do                                             /* TRACE */
        :: d_step {
            any_grey(more);
            if
            :: more ->
                o = 0;
                do :: o < NOBJ - 1 && !grey[o] -> o++ :: else -> break od;
                grey[o] = 0
            :: else -> skip
            fi
           };
           if
           :: more ->
               k = 0;
               do
               :: k < NF -> d_step { v = field[o * NF + k]; cmark(v); v = 0 }; k++
               :: else -> break
               od;
               k = 0; o = 0
           :: else -> break
           fi
        od;
        atomic { shaded = 0; flushed = 0 };            /* TERMINATE */
        post(HS_FLUSH);
        wait_round();
        d_step {
            any_grey(more);
            more = more || flushed || shaded
        };
        if
        :: more -> more = 0; goto tracing
        :: else -> skip
        fi;
        d_step {                                       /* marking is done */
            o = 0;
            do
            :: o < NOBJ -> condemned[o] = alloc[o] && !mark[o]; o++
            :: else -> break
            od;
            o = 0
        };
        post(HS_MARK_OFF);
        wait_round();
        o = 0;
        do                                             /* SWEEP, beside the mutators */
        :: o < NOBJ ->
            d_step {
                if
                :: condemned[o] ->
                    reachable(o, more);
                    assert(!more);                     /* no reachable object is freed */
                    alloc[o] = 0; condemned[o] = 0; mark[o] = 0;
                    k = 0;
                    do :: k < NF -> field[o * NF + k] = NIL; k++ :: else -> break od;
                    k = 0; more = 0
                :: else -> skip
                fi
            };
            o++
        :: else -> break
        od;
        o = 0;
        cycles++
    od
}

init {
    byte i;
    d_step {
        i = 0;
        do :: i < NOBJ * NF -> field[i] = NIL; i++ :: else -> break od;
        i = 0;
        do :: i < NMUT * NREG -> reg[i] = NIL; i++ :: else -> break od;
        i = 0
    };
    atomic {
        run collector();
        run mutator(0);
        run mutator(1)
    }
}
