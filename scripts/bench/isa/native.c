/*
 * Native GEMM micro-kernels for `npm run bench isa` (scripts/bench/isa/cli.ts compiles this with cc -O3 into a
 * temporary folder): multiply-adds per second of one core with the instruction sets MLAS (onnxruntime-node) uses
 * on x86-64, on in-cache data, C[rows x cols] += A[rows x K] B[K x cols], K = 512, as the wasm kernels in
 * kernels.ts. A kernel whose instructions this CPU lacks is left out. Prints one JSON line per kernel.
 *   native <rounds> <round ms>
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define K 512

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static uint8_t A8[4 * K] __attribute__((aligned(64)));
static int8_t B8[K * 64] __attribute__((aligned(64)));
static float Af[4 * K] __attribute__((aligned(64)));
static float Bf[K * 64] __attribute__((aligned(64)));
static int32_t C32[4 * 64] __attribute__((aligned(64)));
static float Cf[6 * 64] __attribute__((aligned(64)));

/* int8, AVX-512 VNNI (vpdpbusd, the instruction of MLAS's u8s8 kernels on such CPUs): 4 rows x 64 columns */
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static void int8_vnni(int reps) {
  for (int r = 0; r < reps; r++) {
    __m512i c[4][4];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) c[i][j] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
      __m512i b[4];
      for (int j = 0; j < 4; j++) b[j] = _mm512_load_si512(B8 + k * 64 + j * 64);
      for (int i = 0; i < 4; i++) {
        __m512i a = _mm512_set1_epi32(*(const int32_t *)(A8 + i * K + k));
        for (int j = 0; j < 4; j++) c[i][j] = _mm512_dpbusd_epi32(c[i][j], a, b[j]);
      }
    }
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) _mm512_store_si512(C32 + i * 64 + j * 16, c[i][j]);
  }
}

/* int8, AVX2 (vpmaddubsw + vpmaddwd + vpaddd, MLAS's u8s8 kernels without VNNI): 4 rows x 16 columns */
__attribute__((target("avx2"), noinline)) static void int8_avx2(int reps) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = 0; r < reps; r++) {
    __m256i c[4][2];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 2; j++) c[i][j] = _mm256_setzero_si256();
    for (int k = 0; k < K; k += 4) {
      __m256i b[2];
      for (int j = 0; j < 2; j++) b[j] = _mm256_load_si256((const __m256i *)(B8 + k * 16 + j * 32));
      for (int i = 0; i < 4; i++) {
        __m256i a = _mm256_set1_epi32(*(const int32_t *)(A8 + i * K + k));
        for (int j = 0; j < 2; j++) c[i][j] = _mm256_add_epi32(c[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b[j]), ones));
      }
    }
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 2; j++) _mm256_store_si256((__m256i *)(C32 + i * 64 + j * 8), c[i][j]);
  }
}

/* fp32, AVX-512 FMA: 4 rows x 64 columns */
__attribute__((target("avx512f"), noinline)) static void fp32_avx512(int reps) {
  for (int r = 0; r < reps; r++) {
    __m512 c[4][4];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) c[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
      __m512 b[4];
      for (int j = 0; j < 4; j++) b[j] = _mm512_load_ps(Bf + (k & 127) * 64 + j * 16);
      for (int i = 0; i < 4; i++) {
        __m512 a = _mm512_set1_ps(Af[i * K + k]);
        for (int j = 0; j < 4; j++) c[i][j] = _mm512_fmadd_ps(a, b[j], c[i][j]);
      }
    }
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) _mm512_store_ps(Cf + i * 64 + j * 16, c[i][j]);
  }
}

/* fp32, AVX2 + FMA3: 6 rows x 16 columns */
__attribute__((target("avx2,fma"), noinline)) static void fp32_avx2(int reps) {
  for (int r = 0; r < reps; r++) {
    __m256 c[6][2];
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 2; j++) c[i][j] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
      __m256 b[2];
      for (int j = 0; j < 2; j++) b[j] = _mm256_load_ps(Bf + (k & 127) * 64 + j * 8);
      for (int i = 0; i < 6; i++) {
        __m256 a = _mm256_set1_ps(Af[(i & 3) * K + k]);
        for (int j = 0; j < 2; j++) c[i][j] = _mm256_fmadd_ps(a, b[j], c[i][j]);
      }
    }
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 2; j++) _mm256_store_ps(Cf + i * 64 + j * 8, c[i][j]);
  }
}

typedef void (*kernel_fn)(int);

static void run(const char *name, const char *label, kernel_fn fn, double macs, int rounds, double round_ms) {
  int reps = 16;
  double t;
  for (;;) {
    double t0 = now_ms();
    fn(reps);
    t = now_ms() - t0;
    if (t >= 20 || reps > (1 << 28)) break;
    reps *= 4;
  }
  int per_round = (int)(reps * round_ms / (t > 1e-3 ? t : 1e-3));
  if (per_round < 1) per_round = 1;
  printf("{\"name\":\"%s\",\"label\":\"%s\",\"gmacs\":[", name, label);
  for (int r = 0; r < rounds; r++) {
    double t0 = now_ms();
    fn(per_round);
    double dt = now_ms() - t0;
    printf("%s%.3f", r ? "," : "", per_round * macs / (dt * 1e6));
  }
  printf("]}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 5;
  double round_ms = argc > 2 ? atof(argv[2]) : 200;
  for (int i = 0; i < 4 * K; i++) A8[i] = (uint8_t)(i * 7), Af[i] = (float)(i % 97) * 1e-3f;
  for (int i = 0; i < K * 64; i++) B8[i] = (int8_t)((i * 13) % 127), Bf[i] = (float)(i % 89) * 2e-3f;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
    run("int8_vnni", "int8, AVX-512 VNNI vpdpbusd, 4 rows x 64", int8_vnni, 4.0 * 64 * K, rounds, round_ms);
  if (__builtin_cpu_supports("avx2"))
    run("int8_avx2", "int8, AVX2 vpmaddubsw + vpmaddwd, 4 rows x 16", int8_avx2, 4.0 * 16 * K, rounds, round_ms);
  if (__builtin_cpu_supports("avx512f"))
    run("fp32_avx512", "fp32, AVX-512 FMA, 4 rows x 64", fp32_avx512, 4.0 * 64 * K, rounds, round_ms);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    run("fp32_avx2", "fp32, AVX2 FMA, 6 rows x 16", fp32_avx2, 6.0 * 16 * K, rounds, round_ms);
  return 0;
}
