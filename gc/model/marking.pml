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
 *   claims      a marker claims a mark by a plain load and a plain store
 *               ([mark.claim]): the mark is read in one step and written,
 *               with the push, in the next, so a mutator's CAS or the
 *               other marker may claim the object in between, and then
 *               both push it (a stack or the pool holding it already
 *               stays as it is: the model keeps sets, one copy).
 *   markers     (-DHELPERS=1) the collector is the coordinator and a helper
 *               marker traces beside it: grey work is in the shared pool of
 *               packets (grey_lock; flushed buffers go there), the
 *               coordinator's stack or the helper's.  The helper, in TRACE
 *               or TERMINATE, takes a packet (any non-empty subset of the
 *               pool) and increments busy in one grey_lock critical
 *               section, traces (claims children onto its own stack, may
 *               donate part of it to the pool), and decrements busy when its
 *               stack is empty.  The coordinator drains its stack and then
 *               the whole pool; after the flush round it drains again and
 *               under grey_lock requires the pool empty and busy == 0, as
 *               well as no work in that drain, nothing flushed, no shading.
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
 *                        (no search has reached its counterexample yet)
 *   -DBROKEN_BUSY        (with HELPERS) busy is incremented after the
 *                        take, outside the grey_lock critical section
 *   -DBROKEN_BUSY_EARLY  (with HELPERS) busy is decremented as the last
 *                        object is popped, before it is traced
 *
 * Other bounds: -DNMUT=1 or 2 mutators, -DNREG, -DNOBJ (2 or 3 with
 * HELPERS), -DNF, -DNCYCLES.  With one register a field can refer only to
 * its own object (a store takes the object and the value from the same
 * thread's registers), so checks of the markers use two registers.
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
#ifndef NMUT
#define NMUT 2                /* 1 or 2 */
#endif
#ifndef HELPERS
#define HELPERS 0             /* 0, or 1: a helper marker beside the coordinator */
#endif
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

#if HELPERS
bool grey[NOBJ];              /* the coordinator's private mark stack */
bool pool[NOBJ];              /* the shared pool of grey packets (grey_lock) */
bool hgrey[NOBJ];             /* the helper's private mark stack */
byte busy;                    /* markers holding private grey work (busy) */
byte phase;                   /* the cycle's phase, as helpers read it */
#define POOL pool
#else
bool grey[NOBJ];              /* the mark stack and the shared grey list */
#define POOL grey
#endif
#define PH_TRACE 1            /* phases a helper may take packets in */
#define PH_TERMINATE 2
#define PH_OTHER 0
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
    :: rn < NOBJ -> if :: gbuf[t * NOBJ + rn] -> POOL[rn] = 1; gbuf[t * NOBJ + rn] = 0 :: else -> skip fi; rn++
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

#if NMUT == 1
inline post(kind) {
    hs[0] = kind
}

inline wait_round() {
    hs[0] == HS_NONE
}
#else
inline post(kind) {
    hs[0] = kind;
    hs[1] = kind
}

inline wait_round() {
    hs[0] == HS_NONE && hs[1] == HS_NONE
}
#endif

/* A marker's claim [mark.claim], in two steps: claim_read(v, seen) reads
 * the mark (a NULL reads as marked), claim_write(v, seen, stack), a step
 * later, writes it and pushes v when it read white.  Between the two a
 * mutator may shade v, or the other marker claim it: both then push it. */
inline claim_read(v, seen) {
    if
    :: v == NIL -> seen = 1
    :: else -> seen = mark[v]
    fi
}

#define claim_write(v, seen, stack) \
    if \
    :: !seen -> mark[v] = 1; stack[v] = 1 \
    :: else -> skip \
    fi

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

#if HELPERS
#if NOBJ == 2
#define ANY(a) (a[0] || a[1])
#elif NOBJ == 3
#define ANY(a) (a[0] || a[1] || a[2])
#else
#define ANY(a) NOBJ_must_be_2_or_3_with_HELPERS
#endif

/* Move a packet, any non-empty subset of the non-empty set from, into the
 * set to (under grey_lock): move_some(pool, hgrey) takes a packet,
 * move_some(hgrey, pool) donates one. */
#define move_some(from, to) \
    rn = 0; rk = 0; \
    do \
    :: rn < NOBJ -> \
        if \
        :: from[rn] -> \
            if \
            :: from[rn] = 0; to[rn] = 1; rk = 1 \
            :: skip \
            fi \
        :: else -> skip \
        fi; \
        rn++ \
    :: else -> break \
    od; \
    if \
    :: !rk -> \
        rn = 0; \
        do :: !from[rn] -> rn++ :: else -> break od; \
        from[rn] = 0; to[rn] = 1 \
    :: else -> skip \
    fi; \
    rn = 0; rk = 0

/* The coordinator's drain (mark_drain_until): pop and trace its own stack
 * until it is empty, then take every packet of the pool under grey_lock;
 * return when both were empty.  worked: an object was traced.  The stack
 * is private, so the pop shares a step with the first field's read. */
inline cdrain(worked) {
    do
    :: d_step {                                        /* pop, read a field */
        ANY(grey) ->
        o = 0;
        do :: o < NOBJ - 1 && !grey[o] -> o++ :: else -> break od;
        grey[o] = 0;
        v = field[o * NF]; claim_read(v, seen);
        k = 1; worked = 1
       };
       d_step { claim_write(v, seen, grey); v = 0; seen = 0 };
       do
       :: d_step { k < NF -> v = field[o * NF + k]; claim_read(v, seen) };
          d_step { claim_write(v, seen, grey); v = 0; seen = 0; k++ }
       :: d_step { k == NF -> k = 0; o = 0 }; break
       od
    :: d_step {                                        /* grey_lock: take the pool */
        !ANY(grey) && ANY(pool) ->
        rn = 0;
        do
        :: rn < NOBJ -> if :: pool[rn] -> grey[rn] = 1; pool[rn] = 0 :: else -> skip fi; rn++
        :: else -> break
        od;
        rn = 0
       }
    :: d_step { !ANY(grey) && !ANY(pool) -> skip }; break
    od
}

/* A helper marker: it only traces.  It reads the phase, then (at any later
 * time: a thread may be delayed there, and a take that finds the pool empty
 * is a read only) takes a packet under grey_lock.  Variants that break the
 * protocol of busy:
 *   BROKEN_BUSY        busy is incremented after the take, outside the
 *                      grey_lock critical section;
 *   BROKEN_BUSY_EARLY  busy is decremented as the last object of the
 *                      private stack is popped, before it is traced. */
proctype helper() {
    byte o, k, v;
    bool seen;
#ifdef BROKEN_BUSY_EARLY
    bool early;
#endif
end:
    do
    :: phase == PH_TRACE || phase == PH_TERMINATE ->   /* the phase, read */
end_take:
        atomic {                                        /* grey_lock: take a packet ... */
            ANY(pool) ->
            move_some(pool, hgrey);
#ifndef BROKEN_BUSY
            busy++                                      /* ... and count itself busy */
#else
            skip
#endif
        };
#ifdef BROKEN_BUSY
        busy++;                                         /* (outside the lock) */
#endif
        do
        :: d_step {                                     /* pop, read a field */
            ANY(hgrey) ->
            o = 0;
            do :: o < NOBJ - 1 && !hgrey[o] -> o++ :: else -> break od;
            hgrey[o] = 0;
#ifdef BROKEN_BUSY_EARLY
            if :: !ANY(hgrey) && !early -> busy--; early = 1 :: else -> skip fi;
            seen = 1;                                   /* nothing read yet */
            k = 0                                       /* the fields, each a step */
#else
            v = field[o * NF]; claim_read(v, seen);
            k = 1
#endif
           };
           d_step { claim_write(v, seen, hgrey); v = 0; seen = 0 };
           do
           :: d_step { k < NF -> v = field[o * NF + k]; claim_read(v, seen) };
              d_step { claim_write(v, seen, hgrey); v = 0; seen = 0; k++ }
           :: d_step { k == NF -> k = 0; o = 0 }; break
           od
        :: atomic { ANY(hgrey) -> move_some(hgrey, pool) } /* donate, under grey_lock */
        :: d_step {                                     /* the private stack is empty */
            !ANY(hgrey) ->
#ifdef BROKEN_BUSY_EARLY
            if :: !early -> busy-- :: else -> skip fi;
            early = 0
#else
            busy--
#endif
           };
           break
        od
    od
}
#endif

proctype collector() {
    byte o, k, v, cycles;
    bool more, seen;
#if HELPERS
    bool worked;
#endif
end:
    do
    :: cycles == NCYCLES -> break
    :: cycles < NCYCLES ->
        /* SWEEP is done: flip the epoch (every mark reads white), drop
         * grey hand-overs left from the last cycle. */
        d_step {
            o = 0;
            do
            :: o < NOBJ ->
                mark[o] = 0; grey[o] = 0;
#if HELPERS
                pool[o] = 0;
#endif
                o++
            :: else -> break
            od;
            o = 0
        };
        post(HS_MARK_ON);
        wait_round();
        post(HS_ROOTS);
        wait_round();
        d_step { v = G; claim_read(v, seen) };         /* global roots, after every thread */
        d_step { claim_write(v, seen, grey); v = 0; seen = 0 };
tracing:
#if HELPERS
        phase = PH_TRACE;
        cdrain(worked);                                /* TRACE */
        atomic { shaded = 0; flushed = 0; worked = 0; phase = PH_TERMINATE };
        post(HS_FLUSH);                                /* TERMINATE */
        wait_round();
        cdrain(worked);                                /* the final drain */
        atomic { more = ANY(pool) || busy != 0 };      /* under grey_lock */
        d_step { more = more || worked || flushed || shaded; worked = 0 };
        if
        :: more -> more = 0; goto tracing
        :: else -> skip
        fi;
        phase = PH_OTHER;
#else
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
               :: k < NF ->
                   d_step { v = field[o * NF + k]; claim_read(v, seen) };
                   d_step { claim_write(v, seen, grey); v = 0; seen = 0 };
                   k++
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
#endif
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
#if NMUT > 1
        run mutator(1);
#endif
#if HELPERS
        run helper();
#endif
        skip
    }
}
