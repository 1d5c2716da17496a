/* model.c — the sequential container: layers, one params buffer and one
 * grads buffer for all of them, named tensors in PyTorch state_dict order,
 * activation buffers planned for a batch size, train/eval mode and the
 * freeze flag.
 *
 * Buffers planned for B samples (L layers, out_i the per-sample output of
 * layer i):
 *   act[i]    (B, out_i...)             forward outputs; backward reads them
 *   gbuf[0/1] (B, max_{i<L-1} out_i)    dL/d(act[i]), alternating
 *   dxbuf     (B, in...)                dL/dinput when the caller asks
 * Forward with B' <= B uses the same buffers; a larger batch re-plans.
 *
 * In-place layers: act[i] is act[i-1] itself when layer i may run over its
 * input (GAN_LAYER_IN_PLACE: relu, tanh, ... whose backward reads only their
 * output) and layer i-1's backward never reads its own output
 * (GAN_LAYER_BWD_NO_Y: dense, conv, batchnorm).  Every activation of a
 * DCGAN or an MLP then costs no buffer of its own.
 *
 * Fusion: a batchnorm followed by such an in-place rectifier (relu,
 * leaky_relu with slope >= 0) runs as one layer: batchnorm's forward_rect
 * and backward_rect apply the rectifier inside their own passes over the
 * data, and the rectifier's forward and backward are skipped (fuses_next).
 * The results are bitwise those of the two layers. */
#include "nn.h"
#include "core/pool.h"
#include "core/simd.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static unsigned traits_of(const gan_layer *l)
{
    return l->ops->traits ? l->ops->traits(l) : 0u;
}

/* Does layer i write its output over act[i-1] (see the top)? */
static bool runs_in_place(const gan_model *m, int i)
{
    return i > 0 && (traits_of(m->layers[i]) & GAN_LAYER_IN_PLACE) &&
           (traits_of(m->layers[i - 1]) & GAN_LAYER_BWD_NO_Y);
}

/* Does layer i apply layer i + 1, a rectifier (*r), in its own passes
 * (batchnorm -> relu or leaky_relu)?  Only when layer i + 1 runs in place,
 * so the two share one output buffer, and i > 0, so the fused backward
 * always has an input-gradient buffer to hold r'(y) dy.  Layer i + 1's own
 * forward and backward are then skipped. */
static bool fuses_next(const gan_model *m, int i, gan_rect *r)
{
    if (i < 1 || i + 1 >= m->nlayers || !runs_in_place(m, i + 1)) return false;
    const gan_layer *l = m->layers[i], *next = m->layers[i + 1];
    return l->ops->forward_rect != NULL && next->ops->rectifier != NULL &&
           next->ops->rectifier(next, r);
}

/* Free act[0..L-1], skipping the entries that alias the one before. */
static void free_acts(float **act, int L)
{
    for (int i = 0; i < L; i++)
        if (i == 0 || act[i] != act[i - 1]) gan_dealloc(act[i]);
}

/* Point m's layers at its arena's block. */
static void bind_arena(gan_model *m)
{
    for (int i = 0; i < m->nlayers; i++) m->layers[i]->scratch = m->arena->block;
}

/* Replace a's block by `block` (bytes): free the old one and re-point the
 * layers of every user that has a plan (the others bind when they plan). */
static void arena_replace(gan_arena *a, void *block, size_t bytes)
{
    gan_dealloc(a->block);
    a->block = block;
    a->bytes = bytes;
    for (int u = 0; u < a->nusers; u++)
        if (a->users[u]->planned > 0) bind_arena(a->users[u]);
}

static void free_plan(gan_model *m)
{
    if (m->act != NULL) free_acts(m->act, m->nlayers);
    gan_dealloc(m->act);
    gan_dealloc(m->gbuf[0]);
    gan_dealloc(m->gbuf[1]);
    gan_dealloc(m->dxbuf);
    for (int i = 0; i < m->nlayers; i++) m->layers[i]->scratch = NULL;
    if (m->arena == &m->own_arena) { /* a shared arena is its owner's to free */
        gan_dealloc(m->own_arena.block);
        m->own_arena.block = NULL;
        m->own_arena.bytes = 0;
    }
    m->act = NULL;
    m->gbuf[0] = m->gbuf[1] = m->dxbuf = NULL;
    m->planned = 0;
    m->saved_n = 0;
}

void gan_model_share_arena(gan_model *m, gan_arena *arena)
{
    free_plan(m);
    m->arena = arena;
}

gan_status gan_model_create(gan_model **out, int ndim, const int64_t *input_shape)
{
    static const char fn[] = "gan_model_create";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(input_shape, fn);
    if (ndim < 1 || ndim > GAN_MAX_DIMS - 1)
        return gan_fail(GAN_E_INVALID, "%s: input ndim = %d, must be 1..%d (per sample)", fn,
                        ndim, GAN_MAX_DIMS - 1);
    GAN_TRY(gan_shape_check(ndim, input_shape, fn));
    gan_model *m = gan_alloc_zero(sizeof *m);
    if (m == NULL) return GAN_E_NOMEM;
    m->in.ndim = ndim;
    for (int i = 0; i < ndim; i++) m->in.d[i] = input_shape[i];
    m->out = m->in;
    m->training = true;
    m->own_arena.users[0] = m;
    m->own_arena.nusers = 1;
    m->arena = &m->own_arena;
    *out = m;
    return GAN_OK;
}

static void model_destroy(gan_model *m)
{
    free_plan(m);
    for (int i = 0; i < m->nlayers; i++) gan_layer_destroy(m->layers[i]);
    gan_dealloc(m->layers);
    gan_dealloc(m->entries);
    gan_dealloc(m->params);
    gan_dealloc(m->grads);
    gan_dealloc(m);
}

void gan_model_free(gan_model *m)
{
    if (m == NULL || m->owner != NULL) return;
    model_destroy(m);
}

void gan_model_destroy_owned(gan_model *m)
{
    if (m != NULL) model_destroy(m);
}

/* Number of trainable floats of a layer's slots. */
static int64_t layer_param_floats(const gan_layer *l)
{
    int64_t n = 0;
    for (int i = 0; i < l->nslots; i++)
        if (!l->slot[i].is_buffer) n += gan_shape_numel(&l->slot[i].shape);
    return n;
}

/* Point every trainable slot of every layer into params / grads, in order
 * (grads may be NULL: not allocated yet, see gan_model_ensure_grads). */
static void repoint_slots(gan_layer **layers, int nlayers, float *params, float *grads)
{
    int64_t off = 0;
    for (int i = 0; i < nlayers; i++) {
        gan_layer *l = layers[i];
        for (int s = 0; s < l->nslots; s++) {
            gan_layer_slot *slot = &l->slot[s];
            if (slot->is_buffer) continue;
            gan_tensor_view(&slot->value, params + off, &slot->shape);
            gan_tensor_view(&slot->grad, grads ? grads + off : NULL, &slot->shape);
            off += gan_shape_numel(&slot->shape);
        }
    }
}

gan_status gan_model_add(gan_model *m, gan_layer *l)
{
    static const char fn[] = "gan_model_add";
    GAN_CHECK_NULL(m, fn);
    GAN_CHECK_NULL(l, fn);
    if (l->owner != NULL)
        return gan_fail(GAN_E_STATE, "%s: this %s layer already belongs to a model", fn,
                        l->ops->kind);
    if (m->owner != NULL) /* the trainer sized its rollback snapshot for these layers */
        return gan_fail(GAN_E_STATE, "%s: the model belongs to a trainer; its layers are fixed", fn);
    if (m->nlayers >= 100000)
        return gan_fail(GAN_E_INVALID, "%s: a model holds at most 100000 layers", fn);

    /* Attach, remembering the layer's previous attachment for failure. */
    gan_shape old_in = l->in, old_out = l->out;
    bool old_attached = l->attached;
    int64_t old_saved_n = l->saved_n;
    gan_status st = gan_layer_attach(l, m->out.ndim, m->out.d);
    if (st != GAN_OK) {
        char shp[96], why[512];
        snprintf(why, sizeof why, "%s", gan_last_error()); /* gan_fail reuses its buffer */
        return gan_fail(st, "%s: layer %d (%s) does not fit the model's output %s: %s", fn,
                        m->nlayers, l->ops->kind, gan_shape_str(&m->out, shp, sizeof shp), why);
    }

    /* Grow every array first so that nothing can fail after we start
     * changing the layer. */
    int64_t add = layer_param_floats(l);
    float *params = NULL, *grads = NULL;
    gan_layer **layers = m->layers;
    gan_model_entry *entries = m->entries;
    int cap_layers = m->cap_layers, cap_entries = m->cap_entries;
    if (m->nlayers == cap_layers) {
        cap_layers = cap_layers ? 2 * cap_layers : 8;
        layers = gan_alloc((size_t)cap_layers * sizeof *layers);
        if (layers == NULL) goto nomem;
        if (m->nlayers) memcpy(layers, m->layers, (size_t)m->nlayers * sizeof *layers);
    }
    if (m->nentries + l->nslots > cap_entries) {
        cap_entries = cap_entries ? 2 * cap_entries : 16;
        while (cap_entries < m->nentries + l->nslots) cap_entries *= 2;
        entries = gan_alloc((size_t)cap_entries * sizeof *entries);
        if (entries == NULL) goto nomem;
        if (m->nentries) memcpy(entries, m->entries, (size_t)m->nentries * sizeof *entries);
    }
    if (add > 0) {
        /* gradients only if the model already has them (a model allocates
         * its gradient buffer when something first needs it) */
        params = gan_alloc_floats(m->nparams + add);
        if (params == NULL) goto nomem;
        if (m->grads != NULL && (grads = gan_alloc_floats(m->nparams + add)) == NULL) goto nomem;
        if (m->nparams) {
            memcpy(params, m->params, (size_t)m->nparams * sizeof(float));
            if (grads != NULL) memcpy(grads, m->grads, (size_t)m->nparams * sizeof(float));
        }
        /* the new layer's values; its gradients start at zero */
        int64_t off = m->nparams;
        for (int s = 0; s < l->nslots; s++) {
            gan_layer_slot *slot = &l->slot[s];
            if (slot->is_buffer) continue;
            memcpy(params + off, slot->value.data, (size_t)slot->value.numel * sizeof(float));
            off += slot->value.numel;
        }
    }

    /* Commit. */
    if (layers != m->layers) {
        gan_dealloc(m->layers);
        m->layers = layers;
    }
    if (entries != m->entries) {
        gan_dealloc(m->entries);
        m->entries = entries;
    }
    m->cap_layers = cap_layers;
    m->cap_entries = cap_entries;
    int index = m->nlayers;
    for (int s = 0; s < l->nslots; s++) {
        gan_model_entry *e = &m->entries[m->nentries++];
        snprintf(e->name, sizeof e->name, "%d.%s", index, l->slot[s].name);
        e->layer = index;
        e->slot = s;
    }
    free_plan(m); /* shapes changed: plan again at the next forward */
    gan_dealloc(l->own_scratch); /* the model's arena serves it from now on */
    l->own_scratch = l->scratch = NULL;
    l->own_scratch_bytes = 0;
    m->layers[m->nlayers++] = l;
    if (add > 0) {
        gan_dealloc(m->params);
        gan_dealloc(m->grads);
        m->params = params;
        m->grads = grads;
        m->nparams += add;
        repoint_slots(m->layers, m->nlayers, m->params, m->grads);
        gan_dealloc(l->param_storage);
        l->param_storage = NULL;
    }
    l->owner = m;
    l->training = m->training;
    l->saved_n = 0;
    m->out = l->out;
    return GAN_OK;

nomem:
    if (layers != m->layers) gan_dealloc(layers);
    if (entries != m->entries) gan_dealloc(entries);
    gan_dealloc(params);
    gan_dealloc(grads);
    l->in = old_in;
    l->out = old_out;
    l->attached = old_attached;
    l->saved_n = old_saved_n;
    return gan_fail(GAN_E_NOMEM, "%s: out of memory adding layer %d (%s)", fn, m->nlayers,
                    l->ops->kind);
}

int gan_model_layer_count(const gan_model *m)
{
    return m ? m->nlayers : 0;
}

gan_layer *gan_model_layer(gan_model *m, int index)
{
    if (m == NULL || index < 0 || index >= m->nlayers) return NULL;
    return m->layers[index];
}

static gan_status shape_out(const gan_shape *s, int *ndim, int64_t shape[GAN_MAX_DIMS])
{
    *ndim = s->ndim;
    for (int i = 0; i < GAN_MAX_DIMS; i++) shape[i] = i < s->ndim ? s->d[i] : 0;
    return GAN_OK;
}

gan_status gan_model_input_shape(const gan_model *m, int *ndim, int64_t shape[GAN_MAX_DIMS])
{
    GAN_CHECK_NULL(m, "gan_model_input_shape");
    GAN_CHECK_NULL(ndim, "gan_model_input_shape");
    GAN_CHECK_NULL(shape, "gan_model_input_shape");
    return shape_out(&m->in, ndim, shape);
}

gan_status gan_model_output_shape(const gan_model *m, int *ndim, int64_t shape[GAN_MAX_DIMS])
{
    GAN_CHECK_NULL(m, "gan_model_output_shape");
    GAN_CHECK_NULL(ndim, "gan_model_output_shape");
    GAN_CHECK_NULL(shape, "gan_model_output_shape");
    return shape_out(&m->out, ndim, shape);
}

gan_status gan_model_init(gan_model *m, gan_init scheme, gan_rng *rng)
{
    GAN_CHECK_NULL(m, "gan_model_init");
    GAN_CHECK_NULL(rng, "gan_model_init");
    for (int i = 0; i < m->nlayers; i++) GAN_TRY(gan_layer_init(m->layers[i], scheme, rng));
    return GAN_OK;
}

/* ---------------------------------------------------------------- planning */
/* After a refused plan: lay the layers' scratch out for the batch the model
 * is still planned for, which its arena holds (a layer reserved for the
 * bigger batch would index past it).  Reserving a batch that was reserved
 * before cannot fail (convolutions only compute sizes that fitted then). */
void gan_model_restore_layout(gan_model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        m->layers[i]->reserved_batch = 0;
        if (m->planned > 0) (void)gan_layer_reserve(m->layers[i], m->planned);
    }
}

gan_status gan_model_scratch_need(gan_model *m, int64_t n, size_t *need)
{
    *need = 0;
    for (int i = 0; i < m->nlayers; i++) {
        gan_status st = gan_layer_reserve(m->layers[i], n);
        if (st != GAN_OK) {
            gan_model_restore_layout(m);
            return st;
        }
        size_t b = gan_layer_scratch_need(m->layers[i]);
        if (b > *need) *need = b;
    }
    return GAN_OK;
}

gan_status gan_arena_grow(gan_arena *a, size_t bytes, const char *fn)
{
    if (bytes <= a->bytes) return GAN_OK;
    void *block = gan_alloc(bytes);
    if (block == NULL)
        return gan_fail(GAN_E_NOMEM, "%s: out of memory for %zu bytes of scratch", fn, bytes);
    arena_replace(a, block, bytes);
    return GAN_OK;
}

gan_status gan_model_plan(gan_model *m, int64_t n)
{
    if (n <= m->planned) return GAN_OK;
    const int L = m->nlayers;
    int64_t largest = 1; /* inputs of layers 1..L-1 */
    for (int i = 0; i + 1 < L; i++) {
        int64_t k = gan_shape_numel(&m->layers[i]->out);
        if (k > largest) largest = k;
    }
    /* overflow: numel(sample) * n must fit, which gan_shape_check proves */
    int64_t probe[GAN_MAX_DIMS] = {n, largest};
    GAN_TRY(gan_shape_check(2, probe, "gan_model_forward"));
    for (int i = 0; i < L; i++) {
        gan_shape s = gan_batch_shape(n, &m->layers[i]->out);
        GAN_TRY(gan_shape_check(s.ndim, s.d, "gan_model_forward"));
    }
    gan_shape sin = gan_batch_shape(n, &m->in);
    GAN_TRY(gan_shape_check(sin.ndim, sin.d, "gan_model_forward"));

    float **act = gan_alloc_zero((size_t)L * sizeof *act);
    float *g0 = NULL, *g1 = NULL, *dx = NULL;
    if (act == NULL) return GAN_E_NOMEM;
    for (int i = 0; i < L; i++) {
        if (runs_in_place(m, i)) act[i] = act[i - 1];
        else if ((act[i] = gan_alloc_floats(n * gan_shape_numel(&m->layers[i]->out))) == NULL)
            goto nomem;
    }
    if ((g0 = gan_alloc_floats(n * largest)) == NULL || (g1 = gan_alloc_floats(n * largest)) == NULL ||
        (dx = gan_alloc_floats(n * gan_shape_numel(&m->in))) == NULL)
        goto nomem;
    size_t need = 0; /* the largest layer scratch: one arena serves them all */
    void *grown = NULL; /* the arena's new block, if it must grow */
    gan_status st = gan_model_scratch_need(m, n, &need);
    /* an own arena is freed by free_plan below, so it is sized anew */
    const size_t have = m->arena == &m->own_arena ? 0 : m->arena->bytes;
    if (st == GAN_OK && need > have && (grown = gan_alloc(need)) == NULL)
        st = gan_fail(GAN_E_NOMEM, "gan_model_forward: out of memory for %zu bytes of scratch",
                      need);
    if (st != GAN_OK) {
        m->saved_n = 0; /* layers may have re-planned the scratch a pending backward needs */
        gan_model_restore_layout(m);
        free_acts(act, L);
        gan_dealloc(act);
        gan_dealloc(g0);
        gan_dealloc(g1);
        gan_dealloc(dx);
        return st;
    }
    free_plan(m);
    m->act = act;
    m->gbuf[0] = g0;
    m->gbuf[1] = g1;
    m->dxbuf = dx;
    m->planned = n;
    if (grown != NULL) arena_replace(m->arena, grown, need); /* binds m's layers too */
    else bind_arena(m);
    return GAN_OK;

nomem:
    free_acts(act, L); /* entries not reached yet are NULL */
    gan_dealloc(act);
    gan_dealloc(g0);
    gan_dealloc(g1);
    gan_dealloc(dx);
    return gan_fail(GAN_E_NOMEM, "gan_model_forward: out of memory planning buffers for a batch of %lld",
                    (long long)n);
}

/* ------------------------------------------------------ forward / backward */
static bool is_batch_of(const gan_tensor *t, const gan_shape *sample)
{
    if (t->shape.ndim != sample->ndim + 1) return false;
    for (int i = 0; i < sample->ndim; i++)
        if (t->shape.d[i + 1] != sample->d[i]) return false;
    return true;
}

/* Does [p, p + n) overlap one of the model's planned buffers? */
static bool overlaps_plan(const gan_model *m, const float *p, int64_t n)
{
    if (m->act == NULL) return false;
    for (int i = 0; i < m->nlayers; i++) {
        const float *a = m->act[i];
        int64_t k = m->planned * gan_shape_numel(&m->layers[i]->out);
        if (p < a + k && a < p + n) return true;
    }
    return false;
}

gan_status gan_model_forward(gan_model *m, const gan_tensor *x, const gan_tensor **y)
{
    static const char fn[] = "gan_model_forward";
    GAN_CHECK_NULL(m, fn);
    GAN_CHECK_NULL(x, fn);
    GAN_CHECK_NULL(y, fn);
    if (m->nlayers == 0) return gan_fail(GAN_E_STATE, "%s: the model has no layers", fn);
    if (!is_batch_of(x, &m->in)) {
        char got[96], want[96];
        gan_shape w = gan_batch_shape(x->shape.ndim > 0 ? x->shape.d[0] : 0, &m->in);
        return gan_fail(GAN_E_SHAPE, "%s: input must be (N, per-sample input) = %s, got %s", fn,
                        gan_shape_str(&w, want, sizeof want), gan_shape_str(&x->shape, got, sizeof got));
    }
    const int64_t n = x->shape.d[0];
    if (overlaps_plan(m, x->data, x->numel))
        return gan_fail(GAN_E_INVALID, "%s: x is one of this model's own activation buffers", fn);
    GAN_TRY(gan_model_plan(m, n));
    const float *in = x->data;
    for (int i = 0; i < m->nlayers; i++) {
        gan_layer *l = m->layers[i];
        gan_rect r;
        if (fuses_next(m, i, &r)) /* act[i + 1] is act[i] */
            l->ops->forward_rect(l, m->act[++i], in, n, r);
        else
            l->ops->forward(l, m->act[i], in, n); /* (n, out_i...) = f_i((n, in_i...)) */
        in = m->act[i];
    }
    m->saved_x = x->data;
    m->saved_n = n;
    gan_shape ys = gan_batch_shape(n, &m->out);
    gan_tensor_view(&m->y_view, m->act[m->nlayers - 1], &ys);
    *y = &m->y_view;
    return GAN_OK;
}

gan_status gan_model_backward(gan_model *m, const gan_tensor *dy, const gan_tensor **dx)
{
    static const char fn[] = "gan_model_backward";
    GAN_CHECK_NULL(m, fn);
    GAN_CHECK_NULL(dy, fn);
    if (m->saved_n == 0)
        return gan_fail(GAN_E_STATE, "%s: backward called before forward", fn);
    const int64_t n = m->saved_n;
    gan_shape want = gan_batch_shape(n, &m->out);
    if (!gan_shape_equal(&dy->shape, &want)) {
        char got[96], ws[96];
        return gan_fail(GAN_E_SHAPE, "%s: dy is %s, the last forward's output was %s", fn,
                        gan_shape_str(&dy->shape, got, sizeof got), gan_shape_str(&want, ws, sizeof ws));
    }
    const bool param_grads = !m->frozen;
    if (!param_grads && dx == NULL) return GAN_OK; /* nothing would be produced */
    if (param_grads) GAN_TRY(gan_model_ensure_grads(m, fn));
    const float *g = dy->data; /* dL/d(output of layer i) */
    int next = 0;              /* gbuf[next] is free: g is in the other one (or dy) */
    for (int i = m->nlayers - 1; i >= 0; i--) {
        gan_rect r;
        const bool fused = fuses_next(m, i - 1, &r); /* layer i is i - 1's rectifier */
        const int j = fused ? i - 1 : i;             /* the layer that runs */
        gan_layer *l = m->layers[j];
        const float *x = j > 0 ? m->act[j - 1] : m->saved_x;
        float *gx; /* dL/d(input of layer j) */
        if (j > 0) {
            gx = m->gbuf[next];
            next ^= 1;
        } else {
            gx = dx != NULL ? m->dxbuf : NULL;
        }
        if (fused) l->ops->backward_rect(l, gx, g, x, m->act[i], n, param_grads, r);
        else l->ops->backward(l, gx, g, x, m->act[i], n, param_grads);
        g = gx;
        i = j;
    }
    if (dx != NULL) {
        gan_shape s = gan_batch_shape(n, &m->in);
        gan_tensor_view(&m->dx_view, m->dxbuf, &s);
        *dx = &m->dx_view;
    }
    return GAN_OK;
}

gan_status gan_model_zero_grad(gan_model *m)
{
    GAN_CHECK_NULL(m, "gan_model_zero_grad");
    /* without a gradient buffer every gradient is already zero */
    if (m->grads != NULL) memset(m->grads, 0, (size_t)m->nparams * sizeof(float));
    return GAN_OK;
}

gan_status gan_model_ensure_grads(gan_model *m, const char *fn)
{
    if (m->grads != NULL || m->nparams == 0) return GAN_OK;
    float *grads = gan_alloc_floats(m->nparams);
    if (grads == NULL)
        return gan_fail(GAN_E_NOMEM, "%s: out of memory for the model's %lld gradients", fn,
                        (long long)m->nparams);
    m->grads = grads;
    repoint_slots(m->layers, m->nlayers, m->params, m->grads);
    return GAN_OK;
}

/* ------------------------------------------------------------ mode, freeze */
gan_status gan_model_set_training(gan_model *m, int training)
{
    GAN_CHECK_NULL(m, "gan_model_set_training");
    m->training = training != 0;
    for (int i = 0; i < m->nlayers; i++) m->layers[i]->training = m->training;
    return GAN_OK;
}

int gan_model_is_training(const gan_model *m)
{
    return m ? m->training : 0;
}

gan_status gan_model_set_frozen(gan_model *m, int frozen)
{
    GAN_CHECK_NULL(m, "gan_model_set_frozen");
    m->frozen = frozen != 0;
    return GAN_OK;
}

int gan_model_is_frozen(const gan_model *m)
{
    return m ? m->frozen : 0;
}

/* ------------------------------------------------------------ named tensors */
int64_t gan_model_param_count(const gan_model *m)
{
    return m ? m->nparams : 0;
}

int gan_model_tensor_count(const gan_model *m)
{
    return m ? m->nentries : 0;
}

gan_status gan_model_tensor(gan_model *m, int index, const char **name, gan_tensor **value,
                            gan_tensor **grad)
{
    GAN_CHECK_NULL(m, "gan_model_tensor");
    if (index < 0 || index >= m->nentries)
        return gan_fail(GAN_E_INVALID, "gan_model_tensor: index %d out of range 0..%d", index,
                        m->nentries - 1);
    const gan_model_entry *e = &m->entries[index];
    gan_layer_slot *s = &m->layers[e->layer]->slot[e->slot];
    if (grad != NULL && !s->is_buffer) GAN_TRY(gan_model_ensure_grads(m, "gan_model_tensor"));
    if (name) *name = e->name;
    if (value) *value = &s->value;
    if (grad) *grad = s->is_buffer ? NULL : &s->grad;
    return GAN_OK;
}

/* --------------------------------------------------------------- internals */
float *gan_model_params(gan_model *m, int64_t *n)
{
    if (n) *n = m ? m->nparams : 0;
    return m ? m->params : NULL;
}

float *gan_model_grads(gan_model *m, int64_t *n)
{
    if (n) *n = m ? m->nparams : 0;
    if (m == NULL || gan_model_ensure_grads(m, "gan_model_grads") != GAN_OK) return NULL;
    return m->grads;
}

int64_t gan_model_buffer_floats(const gan_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const gan_layer *l = m->layers[i];
        for (int s = 0; s < l->nslots; s++)
            if (l->slot[s].is_buffer) n += l->slot[s].value.numel;
    }
    return n;
}

void gan_model_save_buffers(const gan_model *m, float *buf, int64_t *nbt)
{
    for (int i = 0; i < m->nlayers; i++) {
        const gan_layer *l = m->layers[i];
        for (int s = 0; s < l->nslots; s++) {
            if (!l->slot[s].is_buffer) continue;
            memcpy(buf, l->slot[s].value.data, (size_t)l->slot[s].value.numel * sizeof(float));
            buf += l->slot[s].value.numel;
        }
        nbt[i] = l->num_batches_tracked;
    }
}

void gan_model_load_buffers(gan_model *m, const float *buf, const int64_t *nbt)
{
    for (int i = 0; i < m->nlayers; i++) {
        gan_layer *l = m->layers[i];
        for (int s = 0; s < l->nslots; s++) {
            if (!l->slot[s].is_buffer) continue;
            memcpy(l->slot[s].value.data, buf, (size_t)l->slot[s].value.numel * sizeof(float));
            buf += l->slot[s].value.numel;
        }
        l->num_batches_tracked = nbt[i];
    }
}

typedef struct norm_job {
    const float *g;
    int64_t n;
    double part[GAN_POOL_MAX]; /* sum of squares of block t */
} norm_job;

/* part[t] = sum of g[i]^2 over block t, in 8 double lanes */
GAN_HOT static void norm_task(void *ctx, int t, int ntasks, int thread)
{
    (void)thread;
    norm_job *j = ctx;
    int64_t lo, hi;
    gan_split(j->n, t, ntasks, &lo, &hi);
    double acc[8] = {0};
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)j->g[i + k] * j->g[i + k];
    double s = 0.0;
    for (; i < hi; i++) s += (double)j->g[i] * j->g[i];
    for (int k = 0; k < 8; k++) s += acc[k];
    j->part[t] = s;
}

/* One block per thread: the result depends only on the thread count. */
double gan_model_grad_norm(const gan_model *m)
{
    if (m->grads == NULL) return 0.0; /* every gradient is zero */
    norm_job j = {.g = m->grads, .n = m->nparams};
    const int64_t blocks = m->nparams / 65536;
    const int nw = gan_pool_size(blocks < 1 ? 1 : blocks > GAN_POOL_MAX ? GAN_POOL_MAX : (int)blocks);
    gan_parallel(norm_task, &j, nw, nw);
    double s = 0.0;
    for (int w = 0; w < nw; w++) s += j.part[w];
    return sqrt(s);
}

/* ------------------------------------------------------------------- memory */
void gan_model_memory_of(const gan_model *m, gan_memory_info *r)
{
    memset(r, 0, sizeof *r);
    r->parameters = (size_t)m->nparams * sizeof(float);
    r->gradients = m->grads != NULL ? r->parameters : 0;
    r->buffers = (size_t)gan_model_buffer_floats(m) * sizeof(float);
    r->scratch = m->arena->bytes;
    if (m->act == NULL) return;
    int64_t floats = m->planned * gan_shape_numel(&m->in), largest = 1; /* dxbuf */
    for (int i = 0; i < m->nlayers; i++) {
        const int64_t k = gan_shape_numel(&m->layers[i]->out);
        if (i + 1 < m->nlayers && k > largest) largest = k;
        if (i == 0 || m->act[i] != m->act[i - 1]) floats += m->planned * k;
    }
    floats += 2 * m->planned * largest; /* gbuf[0], gbuf[1] */
    r->activations = (size_t)floats * sizeof(float);
}

gan_status gan_memory_info_store(gan_memory_info *out, gan_memory_info *r, const char *fn)
{
    if (out->struct_size < sizeof *r)
        return gan_fail(GAN_E_INVALID,
                        "%s: info->struct_size = %zu, must be at least %zu (sizeof(gan_memory_info))",
                        fn, out->struct_size, sizeof *r);
    r->struct_size = out->struct_size;
    r->total = r->parameters + r->gradients + r->buffers + r->optimizer + r->activations +
               r->scratch + r->other;
    memcpy(out, r, sizeof *r);
    return GAN_OK;
}

gan_status gan_model_memory(const gan_model *m, gan_memory_info *info)
{
    GAN_CHECK_NULL(m, "gan_model_memory");
    GAN_CHECK_NULL(info, "gan_model_memory");
    gan_memory_info r;
    gan_model_memory_of(m, &r);
    return gan_memory_info_store(info, &r, "gan_model_memory");
}
