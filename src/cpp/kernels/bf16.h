// Inference with bfloat16 products and float32 sums and state, on CPUs with
// AVX512_BF16. The weights are rounded to bfloat16 once per call, x<t> chunk
// by chunk and h<t> after every step; each vdpbf16ps multiplies 16 pairs of
// them and adds both products to a float32 sum, twice the multiplies of a
// float32 FMA from half the bytes. Everything else (the cell's math, c<t>,
// h<t> as returned) stays float32: only the products' operands are rounded.
//
// Rounding is the instruction's (VCVTNEPS2BF16): to nearest even, NaN kept
// (quiet), denormals to zero of their sign; the weights are rounded the same
// way in scalar code, so a value rounds alike wherever it appears.
#pragma once

#if !defined(__AVX512BF16__)
#error "bf16.h is compiled with -mavx512bf16 (CMakeLists.txt: the avx512_bf16 unit)"
#endif

#include "forward_pass.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// Two bfloat16 values of A or of a weight row, k (low half) and k + 1: one
// 32-bit lane of vdpbf16ps's operands. K values make ceil(K / 2) pairs, the
// last one padded with zero when K is odd.
using Bf16Pair = std::uint32_t;

inline index_t pairs_of(index_t K) { return (K + 1) / 2; }

// float -> bfloat16 bits as VCVTNEPS2BF16 rounds (see above).
inline std::uint32_t bf16_bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  const std::uint32_t magnitude = b & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return (b >> 16) | 0x40u;        // NaN, made quiet
  if (magnitude < 0x00800000u) return (b >> 16) & 0x8000u;      // zero or denormal: signed zero
  return (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;               // to nearest even (inf stays inf)
}

// The pair (row[k], row[k + 1]) of a row of K values (k even; k + 1 = K is zero).
inline Bf16Pair bf16_pair(const float* row, index_t k, index_t K) {
  return bf16_bits(row[k]) | (k + 1 < K ? bf16_bits(row[k + 1]) << 16 : 0u);
}

// Tile::accumulate's multiply-add over bfloat16 pairs (tile.h's Fma is the
// float one): the accumulators stay float vectors; A's and the panel's
// vectors carry 16 pairs in the bits of one.
struct Bf16Pairs {
  using A = Bf16Pair;
  using W = Bf16Pair;
  static LSTMFAST_INLINE V<float> load(const W* p) { return (V<float>)_mm512_loadu_si512(p); }
  static LSTMFAST_INLINE V<float> broadcast(A a) { return (V<float>)_mm512_set1_epi32(static_cast<int>(a)); }
  static LSTMFAST_INLINE void madd(V<float>& acc, V<float> a, V<float> w) {
    acc = (V<float>)_mm512_dpbf16_ps((__m512)acc, (__m512bh)a, (__m512bh)w);
  }
};

// Rows of floats (row r at src + r * ld, K values) as rows of pairs (row r
// at out + r * pairs_of(K)), n full vectors at a time.
inline void rows_to_pairs(const float* src, index_t ld, index_t rows, index_t K, Bf16Pair* out) {
  constexpr int W = kWidth<float>;
  const index_t kp = pairs_of(K);
  for (index_t r = 0; r < rows; ++r) {
    const float* s = src + r * ld;
    Bf16Pair* d = out + r * kp;
    index_t k = 0;
    for (; k + 2 * W <= K; k += 2 * W) {
      // cvtne2ps_pbh(hi, lo): lanes 0..15 from lo, 16..31 from hi, so that
      // bfloat16 j is value k + j.
      const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + k + W), _mm512_loadu_ps(s + k));
      _mm512_storeu_si512(d + k / 2, (__m512i)b);
    }
    for (; k < K; k += 2) d[k / 2] = bf16_pair(s, k, K);
  }
}

// W_hh as bfloat16 pairs for h<t-1> W_hh^T, laid out like ForwardPanels
// (pack_forward_panels, recurrent.h) with a pair of k where it has a k:
// blocks of the gates of W units, or (one gate) of nv vectors of units.
template <int Gates>
struct Bf16ForwardPanels {
  using Op = Bf16Pairs;
  static constexpr int W = kWidth<float>;
  int nt, nv;
  index_t width, blocks, H, k;  // k: pairs of the product's K = H
  Buffer<Bf16Pair> own;
  const Bf16Pair* panels;

  // Prepared weights: one layout whatever the call (ForwardPanels::packed_nv).
  static index_t elems(index_t H, int nv) {
    return ceil_div(H, index_t(nv) * W) * pairs_of(H) * index_t(Gates) * nv * W;
  }
  static index_t packed_elems(index_t H) { return elems(H, ForwardPanels<float, Gates>::packed_nv(H)); }
  static void pack(const float* w_hh, index_t H, int nv, Bf16Pair* out) {
    // Rounded row by row (vectorised), then transposed.
    const index_t k = pairs_of(H);
    Buffer<Bf16Pair> rows(Gates * H * k);
    rows_to_pairs(w_hh, H, Gates * H, H, rows.get());
    pack_forward_panels<W>(rows.get(), H, k, Gates > 1 ? Gates : nv, Gates > 1, out);
  }

  // packed: pack()'s panels with ForwardPanels<float, Gates>::packed_nv(H), or nullptr.
  Bf16ForwardPanels(const float* w_hh, index_t H_, index_t B, const Bf16Pair* packed = nullptr)
      : nt(ForwardPanels<float, Gates>::threads(H_, B)),
        nv(packed ? ForwardPanels<float, Gates>::packed_nv(H_) : Gates > 1 ? 1 : units_nv<float>(H_, nt)),
        width(index_t(Gates) * nv * W),
        blocks(ceil_div(H_, index_t(nv) * W)),
        H(H_),
        k(pairs_of(H_)),
        own(packed ? 1 : elems(H_, nv)),
        panels(packed ? packed : own.get()) {
    if (!packed) pack(w_hh, H_, nv, own.get());
  }

  const Bf16Pair* panel(index_t jb) const { return panels + jb * k * width; }
};

// h<t> as bfloat16 pairs, the next step's operand: two (B, pairs_of(H))
// buffers, the state after step t - 1 at slot t % 2 (slot 0: h0).
class Bf16State {
 public:
  Bf16State(index_t B, index_t H, const float* h0) : B_(B), kp_(pairs_of(H)), pairs_(2 * B * kp_) {
    fill_zero(pairs_.get(), 2 * B * kp_);
    rows_to_pairs(h0, H, B, H, pairs_.get());
  }

  const Bf16Pair* at(index_t t) const { return pairs_.get() + (t % 2) * B_ * kp_; }

  // Row r's units u.. (u a multiple of the width, so whole pairs) of the
  // state for step t.
  template <class Lanes>
  LSTMFAST_INLINE void store(index_t t, index_t r, index_t u, Lanes lanes, V<float> h) {
    Bf16Pair* p = pairs_.get() + (t % 2) * B_ * kp_ + r * kp_ + u / 2;
    const __m256i b = (__m256i)_mm512_cvtneps_pbh((__m512)h);
    if (lanes.n == kWidth<float>) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), b);
    else _mm256_mask_storeu_epi16(p, static_cast<__mmask16>((1u << lanes.n) - 1), b);
  }

 private:
  index_t B_, kp_;
  Buffer<Bf16Pair> pairs_;
};

// x<t> W_ih^T + b with bfloat16 products, kProjectionRows rows (or the whole
// sequence when its steps are not a range of natural times) at a time, the
// interface of InputProjection (plans.h) for inference. W_ih is packed once,
// in panels of NV vectors of columns (all K pairs each); each thread rounds
// its own rows of x and runs them past every panel, so a panel is read from
// L2 by all of that thread's row tiles in turn.
class Bf16InputProjection {
 public:
  static constexpr int MR = kGemmMR, W = kWidth<float>;

  // packed: pack()'s panels (prepared weights), or nullptr: packed here.
  Bf16InputProjection(const Sequence& seq, const float* x, index_t I, const float* w_ih, const float* bias, index_t G,
                      const Bf16Pair* packed = nullptr)
      : seq_(seq),
        x_(x),
        I_(I),
        G_(G),
        kp_(pairs_of(I)),
        nv_(gemm_nv<float>(G)),
        nr_(index_t(nv_) * W),
        bias_(bias),
        chunk_(InputProjection<float>::chunk_steps(seq)),
        out_(chunk_ * seq.B * G),
        x_pairs_(ceil_div(chunk_ * seq.B, MR) * MR * kp_),
        own_(packed ? 1 : elems(I, G)),
        w_pairs_(packed ? packed : own_.get()) {
    if (!packed) pack(w_ih, I, G, own_.get());
  }

  static index_t elems(index_t I, index_t G) {
    const index_t nr = index_t(gemm_nv<float>(G)) * W;
    return ceil_div(G, nr) * pairs_of(I) * nr;
  }
  // Panel jp: for each pair p, nr_ pairs (column jp * nr_ + n of W_ih^T,
  // that is row n of W_ih), zero past G: the layout of the forward panels of
  // nv_ vectors of units, with G "units" of I values each. Rounded row by
  // row, then transposed.
  static void pack(const float* w_ih, index_t I, index_t G, Bf16Pair* out) {
    const index_t kp = pairs_of(I);
    Buffer<Bf16Pair> rows(G * kp);
    rows_to_pairs(w_ih, I, G, I, rows.get());
    pack_forward_panels<W>(rows.get(), G, kp, gemm_nv<float>(G), false, out);
  }

  index_t chunk() const { return chunk_; }

  // Thread tid's share (whole row tiles) of steps [t0, t0 + steps).
  void compute(index_t t0, index_t steps, int tid, int nt) {
    const index_t first = seq_.first_time(t0, steps);
    if (tid == 0) first_ = first;  // one writer; the others read it after the barrier
    const index_t M = steps * seq_.B, tiles = ceil_div(M, MR);
    const index_t i0 = share_begin(tiles, tid, nt) * MR, i1 = min_i(M, share_begin(tiles, tid + 1, nt) * MR);
    if (i0 >= i1) return;
    Bf16Pair* xp = x_pairs_.get() + i0 * kp_;
    rows_to_pairs(x_ + (first * seq_.B + i0) * I_, I_, i1 - i0, I_, xp);
    // The last tile's rows past M read zeros.
    const index_t padded = ceil_div(i1 - i0, MR) * MR;
    fill_zero(xp + (i1 - i0) * kp_, (padded - (i1 - i0)) * kp_);
    with_nv(nv_, [&](auto nv_c) {
      constexpr int NV = decltype(nv_c)::value;
      for (index_t jp = 0; jp * nr_ < G_; ++jp) {
        const int cols = static_cast<int>(min_i(nr_, G_ - jp * nr_));
        for (index_t i = i0; i < i1; i += MR)
          bf16_micro<NV>(kp_, xp + (i - i0) * kp_, w_pairs_ + jp * kp_ * nr_, out_.get() + i * G_ + jp * nr_,
                         G_, static_cast<int>(min_i(MR, i1 - i)), cols, bias_ ? bias_ + jp * nr_ : nullptr);
      }
    });
  }

  const float* row(index_t row) const { return out_.get() + (row - first_ * seq_.B) * G_; }

 private:
  // One MR-row tile over all K pairs, stored with the bias: out of line, so
  // the accumulators have the registers to themselves (as gemm_micro).
  template <int NV>
  __attribute__((noinline)) static void bf16_micro(index_t kp, const Bf16Pair* a, const Bf16Pair* panel, float* c,
                                                   index_t ldc, int rows, int cols, const float* bias) {
    Tile<float, MR, NV> t;
    t.zero();
    t.template accumulate<Bf16Pairs>(kp, RowsInPlace<Bf16Pair, MR>(a, kp), panel);
    store_tile(t, c, ldc, rows, cols, true, bias);
  }

  const Sequence& seq_;
  const float* x_;
  index_t I_, G_, kp_;
  int nv_;
  index_t nr_;
  const float* bias_;
  index_t chunk_;
  Buffer<float> out_;
  Buffer<Bf16Pair> x_pairs_, own_;
  const Bf16Pair* w_pairs_;
  index_t first_ = 0;
};

// The inference forward pass with bfloat16 products: forward_pass's time loop
// on Bf16ForwardPanels and Bf16InputProjection, each step's h<t> also rounded
// into the next step's operand. Training (a tape) is refused by the
// bindings; project_into is then nullptr.
struct Bf16Products {
  template <class T, int MR, int Gates, int Summed = Gates, class Cell>
  static void forward(const ForwardArgs<float>& a, const Sequence& seq, float*, const Cell& cell) {
    static_assert(std::is_same_v<T, float>, "bfloat16 products: float32 cells");
    if (!begin_forward(a, seq)) return;
    const index_t B = seq.B, H = a.d.H;
    const auto* packed_hh = a.packed ? static_cast<const Bf16Pair*>(a.packed->w_hh) : nullptr;
    const auto* packed_ih = a.packed ? static_cast<const Bf16Pair*>(a.packed->w_ih) : nullptr;
    const Bf16ForwardPanels<Gates> wp(a.w_hh, H, B, packed_hh);
    Bf16InputProjection xp(seq, a.x, a.d.I, a.w_ih, a.bias, Gates * H, packed_ih);
    Bf16State state(B, H, a.h0);
    const auto advance = row_update(a, seq, xp, cell);
    auto rows = [advance, &state, H](index_t t, const float* h_prev, float* h_next, auto lanes, const auto& zh,
                                     index_t r, index_t u) LSTMFAST_INLINE_LAMBDA {
      advance(t, h_prev, h_next, lanes, zh, r, u);
      state.store(t + 1, r, u, lanes, lanes.load(h_next + r * H + u));
    };
    auto operand = [&state](index_t t, const float*) { return state.at(t); };
    if constexpr (Gates > 1) {
      forward_steps(seq, H, xp, wp.nt, a.h0, a.h_n, a.interrupt,
                    Phase{wp.blocks, wp.width, gate_tile_step<float, MR, Gates>(wp, B, operand, rows)});
    } else {
      with_nv(wp.nv, [&](auto nv_c) {
        constexpr int NV = decltype(nv_c)::value;
        forward_steps(seq, H, xp, wp.nt, a.h0, a.h_n, a.interrupt,
                      Phase{wp.blocks, wp.width, unit_tile_step<float, MR, NV>(wp, B, operand, rows)});
      });
    }
  }
};

// Prepared weights in bfloat16 pairs (Packing in plans.h, for these
// panels). The GRU that resets before its candidate's product has no
// bfloat16 path (the bindings refuse it).
struct Bf16Packing {
  static PackedSizes sizes(const PackSpec& s) {
    index_t hh = 0;
    for_each_panel_set(s, [&](auto gates, index_t) {
      hh += Bf16ForwardPanels<decltype(gates)::value>::packed_elems(s.H);
    });
    const index_t ih = Bf16InputProjection::elems(s.I, index_t(s.gates) * s.H);
    return {hh * index_t(sizeof(Bf16Pair)), ih * index_t(sizeof(Bf16Pair))};
  }

  static void pack(const PackSpec& s, const float* w_ih, const float* w_hh, void* hh_out, void* ih_out) {
    auto* out = static_cast<Bf16Pair*>(hh_out);
    for_each_panel_set(s, [&](auto gates, index_t row) {
      constexpr int G = decltype(gates)::value;
      Bf16ForwardPanels<G>::pack(w_hh + row * s.H, s.H, ForwardPanels<float, G>::packed_nv(s.H), out);
      out += Bf16ForwardPanels<G>::packed_elems(s.H);
    });
    Bf16InputProjection::pack(w_ih, s.I, index_t(s.gates) * s.H, static_cast<Bf16Pair*>(ih_out));
  }
};

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
