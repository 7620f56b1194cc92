/* harness/workloads/gaming.c - a game loop with a frame budget.
 *
 * One thread runs frames at a fixed rate (param hz, default 120).  The
 * scene graph holds `entities` entities (default 10000 native, 4000 in the
 * vm engine, whose frame at 10000 takes 6-7 ms of the 8.3 ms slot and
 * misses frames) in groups of 16 under a root; an entity is a record with an
 * id, position and velocity (vectors of 3 boxed floats), 4 component
 * records and a children vector.  A frame moves every entity (3 new boxed
 * floats each), replaces 1% of the entities with fresh ones, spawns 64
 * particles (position, velocity, 30 frames to live) into a ring and moves
 * the live ones; a particle's slot is cleared when it expires.  Per frame
 * at the defaults: about 600 KiB allocated, 4 MiB live.
 *
 * Frame latency is measured from the frame's scheduled start; a frame that
 * ends after its slot is missed, and so is every slot skipped while
 * catching up.  In step mode the frame's remaining slack (less 0.5 ms of
 * margin) goes to rtgc_step in slices of at most the budget.
 */
#include <stdlib.h>

#include "objects.h"

enum { E_ID, E_POS, E_VEL, E_COMPS, E_CHILDREN }; /* entity: rec5 */
enum { P_POS, P_VEL, P_TTL };                     /* particle: rec3 */
enum { C_KIND, C_VALUE };                         /* component: rec2 */
#define GROUP 16
#define SPAWN 64
#define TTL 30

typedef struct game_state {
    void **scene;     /* handle: vec of groups */
    void **particles; /* handle: vec ring of SPAWN * TTL */
    int64_t entities, next_id;
    uint64_t rng;
} game_state;

static void *game_init(gclat_ctx *c) {
    game_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->scene = rtgc_handle(c->t, NULL);
    s->particles = rtgc_handle(c->t, NULL);
    s->rng = c->run->seed + 17;
    return s;
}

static void game_fini(gclat_ctx *c, void *p) {
    free(p);
}

static double frand(game_state *s) {
    return (double)(gclat_rand(&s->rng) % 2001) / 1000.0 - 1.0;
}

/* A vector of 3 new boxed floats. */
static void *new_vec3(gclat_ctx *c, game_state *s, void **r) {
    rtgc_thread *t = c->t;
    r[0] = new_vec(t, 3);
    if (oom(c, r[0]))
        return NULL;
    for (uint32_t k = 0; k < 3; k++) {
        void *f = new_float(t, frand(s));
        if (oom(c, f))
            return NULL;
        set(t, r[0], k, f);
    }
    return r[0];
}

static void *new_entity(gclat_ctx *c, game_state *s) {
    rtgc_thread *t = c->t;
    void *e = NULL;
    RTGC_FRAME(t, r, 3);
    r[1] = new_rec(t, 5);
    if (oom(c, r[1]))
        goto out;
    set(t, r[1], E_ID, imm(s->next_id++));
    if (!new_vec3(c, s, &r[2]))
        goto out;
    set(t, r[1], E_POS, r[2]);
    if (!new_vec3(c, s, &r[2]))
        goto out;
    set(t, r[1], E_VEL, r[2]);
    r[2] = new_vec(t, 4);
    if (oom(c, r[2]))
        goto out;
    set(t, r[1], E_COMPS, r[2]);
    for (uint32_t k = 0; k < 4; k++) {
        r[0] = new_rec(t, 2);
        if (oom(c, r[0]))
            goto out;
        set(t, r[0], C_KIND, imm(k));
        void *f = new_float(t, frand(s));
        if (oom(c, f))
            goto out;
        set(t, r[0], C_VALUE, f);
        set(t, r[2], k, r[0]);
    }
    r[2] = new_vec(t, 0);
    if (oom(c, r[2]))
        goto out;
    set(t, r[1], E_CHILDREN, r[2]);
    e = r[1];
out:
    RTGC_FRAME_POP(t, r);
    return e;
}

/* (setup entities) */
static int64_t game_setup(gclat_ctx *c, int argc, const int64_t *argv) {
    game_state *s = c->native;
    rtgc_thread *t = c->t;
    s->entities = argc > 0 && argv[0] > 0 ? argv[0] : 10000;
    uint32_t groups = (uint32_t)((s->entities + GROUP - 1) / GROUP);
    void *scene = new_vec(t, groups);
    void *ring = new_vec(t, SPAWN * TTL);
    if (oom(c, scene) || oom(c, ring))
        return 0;
    *s->scene = scene;
    *s->particles = ring;
    for (uint32_t g = 0; g < groups; g++) {
        void *grp = new_vec(t, GROUP);
        if (oom(c, grp))
            return 0;
        set(t, *s->scene, g, grp);
        for (uint32_t k = 0; k < GROUP && (int64_t)(g * GROUP + k) < s->entities; k++) {
            void *e = new_entity(c, s);
            if (!e)
                return 0;
            set(t, get(t, *s->scene, g), k, e);
            rtgc_poll(t);
        }
    }
    return s->entities;
}

/* pos[k] += vel[k] * dt, with new boxed floats; obj rooted in *obj */
static int move(gclat_ctx *c, void **obj, uint32_t pos_field, uint32_t vel_field) {
    rtgc_thread *t = c->t;
    for (uint32_t k = 0; k < 3; k++) {
        void *pos = get(t, *obj, pos_field), *vel = get(t, *obj, vel_field);
        double v = float_of(get(t, pos, k)) + float_of(get(t, vel, k)) * (1.0 / 120.0);
        void *f = new_float(t, v);
        if (oom(c, f))
            return -1;
        set(t, get(t, *obj, pos_field), k, f);
    }
    return 0;
}

/* (frame n): returns the live particle count */
static int64_t game_frame(gclat_ctx *c, int argc, const int64_t *argv) {
    game_state *s = c->native;
    rtgc_thread *t = c->t;
    int64_t n = argc > 0 ? argv[0] : 0, live = 0;
    RTGC_FRAME(t, r, 2);
    uint32_t groups = count_of(*s->scene);
    for (uint32_t g = 0; g < groups; g++) {
        void *grp = get(t, *s->scene, g);
        for (uint32_t k = 0; k < GROUP; k++) {
            r[0] = get(t, grp, k);
            if (!r[0])
                continue;
            if (move(c, &r[0], E_POS, E_VEL))
                goto out;
            grp = get(t, *s->scene, g); /* reload: the local is not a root across the allocations */
        }
        rtgc_poll(t);
    }
    for (int64_t i = 0; i < s->entities / 100; i++) {
        uint64_t idx = gclat_rand(&s->rng) % (uint64_t)s->entities;
        void *e = new_entity(c, s);
        if (!e)
            goto out;
        set(t, get(t, *s->scene, (uint32_t)(idx / GROUP)), (uint32_t)(idx % GROUP), e);
    }
    uint32_t cap = count_of(*s->particles);
    for (uint32_t j = 0; j < SPAWN; j++) {
        r[0] = new_rec(t, 3);
        if (oom(c, r[0]) || !new_vec3(c, s, &r[1]))
            goto out;
        set(t, r[0], P_POS, r[1]);
        if (!new_vec3(c, s, &r[1]))
            goto out;
        set(t, r[0], P_VEL, r[1]);
        set(t, r[0], P_TTL, imm(TTL));
        set(t, *s->particles, (uint32_t)(((uint64_t)n * SPAWN + j) % cap), r[0]);
    }
    for (uint32_t i = 0; i < cap; i++) {
        r[0] = get(t, *s->particles, i);
        if (!r[0])
            continue;
        int64_t ttl = unimm(get(t, r[0], P_TTL)) - 1;
        if (ttl <= 0) {
            set(t, *s->particles, i, NULL);
            continue;
        }
        set(t, r[0], P_TTL, imm(ttl));
        if (move(c, &r[0], P_POS, P_VEL))
            goto out;
        live++;
    }
out:
    RTGC_FRAME_POP(t, r);
    rtgc_poll(t);
    return live;
}

static void game_drive(gclat_ctx *c) {
    gclat_run *run = c->run;
    double hz = gclat_param_num(run->opts, "hz", 120);
    int64_t entities = (int64_t)gclat_param_num(run->opts, "entities", run->opts->engine == GCLAT_VM ? 4000 : 10000);
    if (hz <= 0 || hz > 10000 || entities <= 0) {
        gclat_run_fail(c, "gaming: hz must be in (0, 10000] and entities positive");
        return;
    }
    int64_t a = entities;
    if (gclat_call(c, "setup", 1, &a, NULL))
        return;
    gclat_lat lat;
    gclat_lat_init(&lat);
    uint64_t period = (uint64_t)(1e9 / hz);
    gclat_run_deadline(c, period);
    uint64_t t0 = gclat_run_barrier(c), end = run->measure_end_ns;
    uint64_t frames = 0, missed = 0, slot = 0, step_ns = 0, sum = 0;
    while (!run->failed) {
        uint64_t sched = t0 + slot * period;
        if (sched >= end)
            break;
        gclat_sleep_until(c->t, sched);
        uint64_t began = gclat_now();
        int64_t fa = (int64_t)frames, live;
        if (gclat_call(c, "frame", 1, &fa, &live))
            break;
        sum += (uint64_t)live;
        uint64_t done = gclat_now();
        gclat_lat_add2(&lat, done - sched, done - began, period);
        frames++;
        if (done > sched + period)
            missed++;
        /* next slot: the first that has not started yet; skipped ones are missed */
        uint64_t next = slot + 1;
        if (done > t0 + next * period) {
            uint64_t catch_up = (done - t0) / period + 1;
            missed += catch_up - next;
            next = catch_up;
        }
        slot = next;
        /* step mode: the frame's slack goes to the collector */
        step_ns += gclat_step_slack(c, t0 + slot * period, 500000);
    }
    uint64_t due = (end - t0 + period - 1) / period; /* slots that start before the end */
    gclat_run_add(c, &lat, frames, due, missed, step_ns, sum);
}

static const gclat_entry game_entries[] = {{"setup", game_setup}, {"frame", game_frame}, {NULL, NULL}};
static const char *const game_params[] = {"hz", "entities", NULL};

const gclat_workload gclat_gaming = {
    .name = "gaming",
    .summary = "a fixed-rate frame loop over a scene graph with particles",
    .unit = "frame",
    .default_mode = "step",
    .default_heap = (size_t)64 << 20,
    .default_threads = 1,
    .default_duration_ns = 5000000000ull,
    .params = game_params,
    .native_init = game_init,
    .native_fini = game_fini,
    .entries = game_entries,
    .drive = game_drive,
};
