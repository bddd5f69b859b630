// A whole GRU sequence in one call, forward and backward, for the DMN's recurrences on the CPU.
//
// The equations are PyTorch's (torch.gru) and dmn/model.py's GRU, with an optional attention
// gate g_t that scales each step, as in the DMN's episodes:
//
//   gi_t = W x_t + b_ih                       (given: [B, T, G*H], G = 3 with an update gate, else 2)
//   gh_t = U h_{t-1} + b_hh                   (one matrix product a step)
//   r_t  = sigmoid(gi_r + gh_r)
//   z_t  = sigmoid(gi_z + gh_z)               (update gate only)
//   n_t  = tanh(gi_n + r_t * gh_n)
//   h'_t = (1 - z_t) * n_t + z_t * h_{t-1}    (n_t without an update gate)
//   h_t  = g_t * h'_t + (1 - g_t) * h_{t-1}   (h'_t without an attention gate)
//
// A step of the DMN is so small (batch x 80 units) that PyTorch spends its time launching the
// dozen operations of a step and recording them for autograd, not computing. Here a step is one
// matrix product plus one loop over its elements; the backward pass is written out by hand and
// batches the weight gradients of all steps into one matrix product at the end.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

namespace {

constexpr int64_t kRowsPerThread = 16;  // a batch row is a few hundred floats: small batches run in one thread
constexpr int64_t kFewRows = 4;  // up to this many rows, U h is a loop here rather than a BLAS call

// C [n, N] += A [n, K] M^T with M [N, K] (transposed), or A M with M [K, N]; all row-major. For a
// few rows (one question in the app) plain loops here cost far less than a call into BLAS.
void add_rows_times(const float* A, int64_t n, int64_t K, const float* M, int64_t N, bool transposed, float* C) {
  if (n <= kFewRows) {
    for (int64_t b = 0; b < n; ++b) {
      const float* __restrict a = A + b * K;
      float* __restrict c = C + b * N;
      if (transposed) {
        for (int64_t j = 0; j < N; ++j) {
          const float* __restrict m = M + j * K;
          float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
          for (int64_t k = 0; k < K; ++k) sum += m[k] * a[k];
          c[j] += sum;
        }
      } else {
        for (int64_t k = 0; k < K; ++k) {
          const float* __restrict m = M + k * N;
          const float ak = a[k];
#pragma omp simd
          for (int64_t j = 0; j < N; ++j) c[j] += ak * m[j];
        }
      }
    }
    return;
  }
  const auto options = at::TensorOptions().dtype(at::kFloat);
  auto product = at::from_blob(C, {n, N}, options);
  const auto rows = at::from_blob(const_cast<float*>(A), {n, K}, options);
  const auto matrix = transposed ? at::from_blob(const_cast<float*>(M), {N, K}, options).t()
                                 : at::from_blob(const_cast<float*>(M), {K, N}, options);
  product.addmm_(rows, matrix);  // in one thread: it is called inside a parallel block
}

// tanh as a rational function (the approximation Eigen uses for float, accurate to a few units in
// the last place), clamped where tanh rounds to +-1: plain arithmetic, so the compiler vectorises
// the whole step instead of calling a math library for every group of elements.
inline float fast_tanh(float x) {
  constexpr float limit = 7.90531110763549805f;
  x = x < -limit ? -limit : (x > limit ? limit : x);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return x * p / q;
}

inline float sigmoid(float x) { return 0.5f * fast_tanh(0.5f * x) + 0.5f; }

// One step for one row: x = gi_t [G*H], u = gh_t [G*H], a = h_{t-1} [H] -> act = (r, z, n), h = h_t.
template <bool update>
inline void forward_step(const float* __restrict x, const float* __restrict u, const float* __restrict a, float g,
                         int64_t H, float* __restrict act, float* __restrict h) {
  const int64_t n_off = update ? 2 * H : H;
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const float r = sigmoid(x[j] + u[j]);
    const float n = fast_tanh(x[n_off + j] + r * u[n_off + j]);
    float h_new = n;
    if (update) {
      const float z = sigmoid(x[H + j] + u[H + j]);
      h_new = (1.0f - z) * n + z * a[j];
      act[H + j] = z;
    }
    act[j] = r;
    act[n_off + j] = n;
    h[j] = g * h_new + (1.0f - g) * a[j];
  }
}

// The same step backwards: d = dL/dh_t (dh from later steps plus gs, the states' own gradient) ->
// dx = dL/dgi_t, du = dL/dgh_t, da = the part of dL/dh_{t-1} that skips U; returns dL/dg_t.
template <bool update>
inline float backward_step(const float* __restrict act, const float* __restrict u, const float* __restrict a,
                           const float* __restrict gs, float g, int64_t H, const float* __restrict dh,
                           float* __restrict dx, float* __restrict du, float* __restrict da) {
  const int64_t n_off = update ? 2 * H : H;
  float dg = 0.0f;
#pragma omp simd reduction(+ : dg)
  for (int64_t j = 0; j < H; ++j) {
    const float d = dh[j] + gs[j];
    const float r = act[j], n = act[n_off + j];
    const float z = update ? act[H + j] : 0.0f;
    const float h_new = (1.0f - z) * n + z * a[j];
    dg += d * (h_new - a[j]);
    const float d_new = d * g;
    const float ds_n = d_new * (1.0f - z) * (1.0f - n * n);
    const float ds_r = ds_n * u[n_off + j] * r * (1.0f - r);
    dx[j] = ds_r;
    du[j] = ds_r;
    if (update) {
      const float ds_z = d_new * (a[j] - n) * z * (1.0f - z);
      dx[H + j] = ds_z;
      du[H + j] = ds_z;
    }
    dx[n_off + j] = ds_n;
    du[n_off + j] = ds_n * r;
    da[j] = d * (1.0f - g) + d_new * z;
  }
  return dg;
}

// Returns {states [T, B, H] (h_1..h_T), activations [T, B, G*H] (r, z, n), gh [T, B, G*H]}.
std::vector<at::Tensor> forward(const at::Tensor& gi_, const at::Tensor& U_, const at::Tensor& b_hh_,
                                const at::Tensor& gate_, const at::Tensor& h0_) {
  TORCH_CHECK(gi_.dim() == 3 && gi_.scalar_type() == at::kFloat, "gi must be a float tensor [B, T, G*H]");
  const auto gi = gi_.contiguous(), U = U_.contiguous(), b_hh = b_hh_.contiguous();
  const auto h0 = h0_.contiguous(), gate = gate_.contiguous();
  const int64_t B = gi.size(0), T = gi.size(1), GH = gi.size(2), H = U.size(1);
  const bool update = GH == 3 * H, gated = gate.numel() > 0;
  TORCH_CHECK(update || GH == 2 * H, "gi's last dimension must be 2H or 3H");
  TORCH_CHECK(U.size(0) == GH && b_hh.numel() == GH && h0.size(0) == B && h0.size(1) == H, "shape mismatch");
  TORCH_CHECK(!gated || (gate.size(0) == B && gate.size(1) == T), "gate must be [B, T]");

  auto states = at::empty({T, B, H}, gi.options());
  auto acts = at::empty({T, B, GH}, gi.options());
  auto gh = at::empty({T, B, GH}, gi.options());
  const float* pgi = gi.data_ptr<float>();
  const float* pg = gated ? gate.data_ptr<float>() : nullptr;
  const float* pU = U.data_ptr<float>();
  const float* pb = b_hh.data_ptr<float>();
  const float* ph0 = h0.data_ptr<float>();
  float* ps = states.data_ptr<float>();
  float* pa = acts.data_ptr<float>();
  float* pgh = gh.data_ptr<float>();
  // Rows are independent sequences: each thread runs its block of rows through all T steps, so the
  // threads meet once a sequence rather than twice a step.
  at::parallel_for(0, B, kRowsPerThread, [&](int64_t begin, int64_t end) {
    const int64_t n = end - begin;
    for (int64_t t = 0; t < T; ++t) {
      const float* hp = (t == 0 ? ph0 : ps + (t - 1) * B * H) + begin * H;  // h_{t-1} of these rows
      float* u = pgh + (t * B + begin) * GH;
      for (int64_t b = 0; b < n; ++b) std::copy(pb, pb + GH, u + b * GH);
      add_rows_times(hp, n, H, pU, GH, /*transposed=*/true, u);  // gh_t = b_hh + U h_{t-1}  [n, G*H]
      for (int64_t b = begin; b < end; ++b) {
        const float g = gated ? pg[b * T + t] : 1.0f;
        const float* x = pgi + (b * T + t) * GH;
        float* act = pa + (t * B + b) * GH;
        float* h = ps + (t * B + b) * H;
        const float* a = hp + (b - begin) * H;
        const float* ub = u + (b - begin) * GH;
        if (update)
          forward_step<true>(x, ub, a, g, H, act, h);
        else
          forward_step<false>(x, ub, a, g, H, act, h);
      }
    }
  });
  return {states, acts, gh};
}

// Returns {d gi [B, T, G*H], d U [G*H, H], d b_hh [G*H], d gate [B, T] (empty if ungated), d h0 [B, H]}.
std::vector<at::Tensor> backward(const at::Tensor& grad_states_, const at::Tensor& U_, const at::Tensor& gate_,
                                 const at::Tensor& h0_, const at::Tensor& states, const at::Tensor& acts,
                                 const at::Tensor& gh) {
  const auto grad_states = grad_states_.contiguous(), U = U_.contiguous();
  const auto gate = gate_.contiguous(), h0 = h0_.contiguous();
  const int64_t T = states.size(0), B = states.size(1), H = states.size(2), GH = acts.size(2);
  const bool update = GH == 3 * H, gated = gate.numel() > 0;

  auto d_gi = at::empty({B, T, GH}, states.options());
  auto d_gh = at::empty({T, B, GH}, states.options());  // d(U h_{t-1} + b_hh) of every step
  auto d_gate = gated ? at::empty({B, T}, states.options()) : at::empty({0}, states.options());
  auto dh = at::zeros({B, H}, states.options());  // dL/dh_t flowing back from later steps
  const float* pgs = grad_states.data_ptr<float>();  // [B, T, H]
  const float* pg = gated ? gate.data_ptr<float>() : nullptr;
  const float* pa = acts.data_ptr<float>();
  const float* pgh = gh.data_ptr<float>();
  const float* pU = U.data_ptr<float>();
  const float* ps = states.data_ptr<float>();
  const float* ph0 = h0.data_ptr<float>();
  float* pdgi = d_gi.data_ptr<float>();
  float* pdgh = d_gh.data_ptr<float>();
  float* pdg = gated ? d_gate.data_ptr<float>() : nullptr;
  float* pdh = dh.data_ptr<float>();
  at::parallel_for(0, B, kRowsPerThread, [&](int64_t begin, int64_t end) {
    const int64_t n = end - begin;
    std::vector<float> da(n * H);  // the part of dL/dh_{t-1} that skips U
    for (int64_t t = T - 1; t >= 0; --t) {
      const float* hp = t == 0 ? ph0 : ps + (t - 1) * B * H;
      for (int64_t b = begin; b < end; ++b) {
        const float* act = pa + (t * B + b) * GH;
        const float* u = pgh + (t * B + b) * GH;
        const float* gs = pgs + (b * T + t) * H;
        float* dx = pdgi + (b * T + t) * GH;
        float* du = pdgh + (t * B + b) * GH;
        const float g = gated ? pg[b * T + t] : 1.0f;
        float* dab = da.data() + (b - begin) * H;
        const float dg = update ? backward_step<true>(act, u, hp + b * H, gs, g, H, pdh + b * H, dx, du, dab)
                                : backward_step<false>(act, u, hp + b * H, gs, g, H, pdh + b * H, dx, du, dab);
        if (gated) pdg[b * T + t] = dg;
      }
      // dL/dh_{t-1} = the direct part + d gh_t U
      std::copy(da.begin(), da.end(), pdh + begin * H);
      add_rows_times(pdgh + (t * B + begin) * GH, n, GH, pU, H, /*transposed=*/false, pdh + begin * H);
    }
  });
  const auto prev = at::cat({h0.unsqueeze(0), states.narrow(0, 0, T - 1)}).view({T * B, H});  // h_0..h_{T-1}
  const auto flat = d_gh.view({T * B, GH});
  return {d_gi, flat.t().mm(prev), flat.sum(0), d_gate, dh};
}

}  // namespace

TORCH_LIBRARY(dmn_gru, m) {
  m.def("forward(Tensor gi, Tensor U, Tensor b_hh, Tensor gate, Tensor h0) -> Tensor[]");
  m.def(
      "backward(Tensor grad_states, Tensor U, Tensor gate, Tensor h0, Tensor states, Tensor acts, Tensor gh) "
      "-> Tensor[]");
}

TORCH_LIBRARY_IMPL(dmn_gru, CPU, m) {
  m.impl("forward", &forward);
  m.impl("backward", &backward);
}
