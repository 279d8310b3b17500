/* Appended to the patched e5.c by tests/ingest/test_native_engine.py: runs e5.c's matmul_q4q8 and our
 * dx_matmul_q4q8 on the same random Q4_0 weights and Q8_0 activations, so the two can be compared. */

/* 1 when dx_matmul_q4q8 is our kernel, 0 when this CPU lacks its instructions and it is e5.c's own */
int dx_kernel_active(void) { return (void *)dx_matmul_q4q8 != (void *)matmul_q4q8; }

static unsigned dx_next(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

/* ours and theirs each receive L * nout outputs; with_bias 0 passes no bias. Returns 0, or -1 without memory. */
int dx_kernel_check(int L, int nout, int nin, unsigned seed, int with_bias, float *ours, float *theirs) {
    int nb = nin / QK;
    block_q4_0 *W = (block_q4_0 *)malloc(sizeof(block_q4_0) * (size_t)nout * nb);
    float *bias = (float *)malloc(sizeof(float) * (size_t)nout);
    float *X = (float *)malloc(sizeof(float) * (size_t)L * nin + 1);
    int8_t *aq = (int8_t *)malloc((size_t)L * nin + 1);
    float *ad = (float *)malloc(sizeof(float) * (size_t)L * nb + 1);
    int32_t *as = (int32_t *)malloc(sizeof(int32_t) * (size_t)L * nb + 1);
    if (!W || !bias || !X || !aq || !ad || !as) return -1;
    unsigned state = seed;
    for (int i = 0; i < nout * nb; i++) {
        /* fp16 scales between about 2^-9 and 2^-5, either sign; random nibbles */
        W[i].d = (uint16_t)(((dx_next(&state) & 1u) << 15) | ((6u + dx_next(&state) % 4u) << 10) | (dx_next(&state) & 0x3FFu));
        for (int j = 0; j < 16; j++) W[i].qs[j] = (uint8_t)dx_next(&state);
    }
    for (int o = 0; o < nout; o++) bias[o] = (float)((int)(dx_next(&state) % 2001u) - 1000) / 1000.f;
    for (size_t i = 0; i < (size_t)L * nin; i++) X[i] = (float)((int)(dx_next(&state) % 20001u) - 10000) / 2500.f;
    quantize_acts(X, L, nin, aq, ad, as);
    matmul_q4q8(W, with_bias ? bias : NULL, aq, ad, as, theirs, L, nout, nin);
    dx_matmul_q4q8(W, with_bias ? bias : NULL, aq, ad, as, ours, L, nout, nin);
    free(W); free(bias); free(X); free(aq); free(ad); free(as);
    return 0;
}

/* One layer's attention over texts at segoff (nseg texts, segoff[nseg] tokens in all) on random q, k and v:
 * theirs from the loop e5.c runs (copied here, as written there), ours from dx_attention. Returns what
 * dx_attention returned (0: it declined and left ours alone), or -1 without memory. */
int dx_attention_check(int nseg, const int *segoff, int H, int NH, unsigned seed, float *ours, float *theirs) {
    int T = segoff[nseg], hd = H / NH, maxp = 0;
    float *q = (float *)malloc(sizeof(float) * (size_t)T * H), *k = (float *)malloc(sizeof(float) * (size_t)T * H);
    float *v = (float *)malloc(sizeof(float) * (size_t)T * H);
    int *sstart = (int *)malloc(sizeof(int) * (size_t)T), *send = (int *)malloc(sizeof(int) * (size_t)T);
    if (!q || !k || !v || !sstart || !send) return -1;
    unsigned state = seed;
    for (size_t i = 0; i < (size_t)T * H; i++) {
        q[i] = (float)((int)(dx_next(&state) % 2001u) - 1000) / 250.f;
        k[i] = (float)((int)(dx_next(&state) % 2001u) - 1000) / 250.f;
        v[i] = (float)((int)(dx_next(&state) % 2001u) - 1000) / 1000.f;
    }
    for (int g = 0; g < nseg; g++) {
        if (segoff[g + 1] - segoff[g] > maxp) maxp = segoff[g + 1] - segoff[g];
        for (int t = segoff[g]; t < segoff[g + 1]; t++) { sstart[t] = segoff[g]; send[t] = segoff[g + 1]; }
    }
    float scale = 1.f / sqrtf((float)hd);
    float *prob = (float *)malloc(sizeof(float) * (size_t)(maxp > 0 ? maxp : 1));
    float *ctx = theirs;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < NH; h++) {
            int s0 = sstart[t], s1 = send[t];
            const float *qh = q + (size_t)t * H + h * hd;
            float mx = -1e30f;
            for (int s = s0; s < s1; s++) {
                const float *kh = k + (size_t)s * H + h * hd;
                float d = 0.f;
                for (int e = 0; e < hd; e++) d += qh[e] * kh[e];
                d *= scale; prob[s - s0] = d; if (d > mx) mx = d;
            }
            float sum = 0.f;
            for (int s = s0; s < s1; s++) { float e = expf(prob[s - s0] - mx); prob[s - s0] = e; sum += e; }
            float inv = 1.f / sum;
            float *ch = ctx + (size_t)t * H + h * hd;
            for (int e = 0; e < hd; e++) ch[e] = 0.f;
            for (int s = s0; s < s1; s++) {
                float p = prob[s - s0] * inv;
                const float *vh = v + (size_t)s * H + h * hd;
                for (int e = 0; e < hd; e++) ch[e] += p * vh[e];
            }
        }
    int done = dx_attention(q, k, v, ours, segoff, nseg, H, NH, hd, scale, maxp);
    free(q); free(k); free(v); free(sstart); free(send); free(prob);
    return done;
}
