// XLA FFI handlers (CPU) for channels-last convolution on oneDNN: forward, input gradient, kernel gradient.
//
// Layout as in jcnn.ops.conv: activations (N, *S, C) with 1-3 spatial dims, kernels (*K, C_in / G, C_out),
// C_out ordered group-major. oneDNN names these nwc/nhwc/ndhwc and wio/hwio/dhwio, or with groups
// wigo/hwigo/dhwigo (oneDNN dims {G, C_out/G, C_in/G, *K}); both are plain views of jcnn's buffers, so no
// handler copies activations. The kernel is reordered into the primitive's preferred (blocked) layout on every
// call, as PyTorch's eager oneDNN path does; it is small next to the activations.
//
// Primitives are built once per (kind, dtype, shapes, stride, padding, dilation, groups) and kept in a
// process-wide cache; executing one primitive from several threads is safe because its scratchpad is
// supplied per call (scratchpad_mode::user) from a thread-local buffer.
//
// Threads: oneDNN here is the OpenMP (libgomp) build from the `onednn-cpu-gomp` wheel. Each handler sets the
// calling thread's OpenMP team size to jcnn_onednn_set_num_threads()'s value (0: OpenMP's default, one thread
// per core) before it runs a primitive.

#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = dnnl::memory::format_tag;

namespace {

enum class Kind { kForward = 0, kInputGrad = 1, kKernelGrad = 2 };

std::atomic<int> g_num_threads{0};

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The hyperparameters of one convolution, in jcnn's order (spatial dims only).
struct Conv {
  std::vector<int64_t> x, w, y;  // (N, *S, C_in), (*K, C_in/G, C_out), (N, *out, C_out)
  std::vector<int64_t> stride, pad_lo, pad_hi, dilation;
  int64_t groups;
  memory::data_type dtype;
  int nd() const { return static_cast<int>(x.size()) - 2; }
};

memory::dims ActDims(const std::vector<int64_t>& a) {  // (N, *S, C) -> {N, C, *S}
  memory::dims d{a.front(), a.back()};
  d.insert(d.end(), a.begin() + 1, a.end() - 1);
  return d;
}

memory::desc ActDesc(const Conv& c, const std::vector<int64_t>& a) {
  static const tag kTags[] = {tag::nwc, tag::nhwc, tag::ndhwc};
  return memory::desc(ActDims(a), c.dtype, kTags[c.nd() - 1]);
}

memory::desc KernelDesc(const Conv& c) {  // jcnn's (*K, C_in/G, C_out), as a oneDNN plain layout
  const int nd = c.nd();
  const int64_t ci_g = c.w[nd], co = c.w[nd + 1];
  memory::dims d;
  if (c.groups == 1) {
    d = {co, ci_g};
  } else {
    d = {c.groups, co / c.groups, ci_g};
  }
  d.insert(d.end(), c.w.begin(), c.w.begin() + nd);
  static const tag kPlain[] = {tag::wio, tag::hwio, tag::dhwio};
  static const tag kGrouped[] = {tag::wigo, tag::hwigo, tag::dhwigo};
  return memory::desc(d, c.dtype, (c.groups == 1 ? kPlain : kGrouped)[nd - 1]);
}

memory::desc AnyLike(const memory::desc& d) { return memory::desc(d.get_dims(), d.get_data_type(), tag::any); }

// One cached primitive with the kernel layout it wants and the reorder between that and jcnn's.
struct Entry {
  dnnl::primitive prim;
  memory::desc x, w, y;           // jcnn's plain layouts
  memory::desc w_prim;            // the primitive's kernel layout
  bool reorder = false;           // w_prim != w
  dnnl::reorder w_reorder;        // w -> w_prim (forward, input grad) or w_prim -> w (kernel grad)
  size_t scratch = 0;
};

std::string CacheKey(Kind kind, const Conv& c) {
  std::ostringstream s;
  s << static_cast<int>(kind) << ':' << static_cast<int>(c.dtype) << ':' << c.groups;
  for (const auto* v : {&c.x, &c.w, &c.y, &c.stride, &c.pad_lo, &c.pad_hi, &c.dilation}) {
    s << '|';
    for (int64_t e : *v) s << e << ',';
  }
  return s.str();
}

std::shared_ptr<Entry> Build(Kind kind, const Conv& c) {
  auto e = std::make_shared<Entry>();
  e->x = ActDesc(c, c.x);
  e->y = ActDesc(c, c.y);
  e->w = KernelDesc(c);
  memory::dims stride(c.stride.begin(), c.stride.end()), lo(c.pad_lo.begin(), c.pad_lo.end()),
      hi(c.pad_hi.begin(), c.pad_hi.end()), dil;
  for (int64_t d : c.dilation) dil.push_back(d - 1);  // oneDNN counts the gaps, not the step
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto prop = kind == Kind::kForward ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training;
  auto fwd = dnnl::convolution_forward::primitive_desc(Engine(), prop, dnnl::algorithm::convolution_direct, e->x,
                                                       AnyLike(e->w), e->y, stride, dil, lo, hi, attr);
  if (kind == Kind::kForward) {
    e->w_prim = fwd.weights_desc();
    e->scratch = fwd.scratchpad_desc().get_size();
    e->prim = dnnl::convolution_forward(fwd);
  } else if (kind == Kind::kInputGrad) {
    auto bwd = dnnl::convolution_backward_data::primitive_desc(Engine(), dnnl::algorithm::convolution_direct, e->x,
                                                               AnyLike(e->w), e->y, stride, dil, lo, hi, fwd, attr);
    e->w_prim = bwd.weights_desc();
    e->scratch = bwd.scratchpad_desc().get_size();
    e->prim = dnnl::convolution_backward_data(bwd);
  } else {
    auto bwd = dnnl::convolution_backward_weights::primitive_desc(
        Engine(), dnnl::algorithm::convolution_direct, e->x, AnyLike(e->w), e->y, stride, dil, lo, hi, fwd, attr);
    e->w_prim = bwd.diff_weights_desc();
    e->scratch = bwd.scratchpad_desc().get_size();
    e->prim = dnnl::convolution_backward_weights(bwd);
  }
  e->reorder = e->w_prim != e->w;
  if (e->reorder) {
    e->w_reorder = kind == Kind::kKernelGrad ? dnnl::reorder(memory(e->w_prim, Engine(), nullptr), memory(e->w, Engine(), nullptr))
                                             : dnnl::reorder(memory(e->w, Engine(), nullptr), memory(e->w_prim, Engine(), nullptr));
  }
  return e;
}

std::shared_ptr<Entry> Lookup(Kind kind, const Conv& c) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<Entry>> cache;
  const std::string key = CacheKey(kind, c);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  auto e = Build(kind, c);  // outside the lock: building can take milliseconds
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(key, e).first->second;
}

// Per-thread buffers: the scratchpad and the kernel in the primitive's layout.
struct Buffers {
  std::vector<char> scratch, kernel;
  static char* Grow(std::vector<char>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
  }
};
thread_local Buffers t_buffers;

ffi::Error Run(Kind kind, const Conv& c, void* x, void* w, void* y) {
  const int threads = g_num_threads.load(std::memory_order_relaxed);
  if (threads > 0) omp_set_num_threads(threads);  // the calling thread's team size
  try {
    auto e = Lookup(kind, c);
    dnnl::stream stream(Engine());
    memory mx(e->x, Engine(), x), mw(e->w, Engine(), w), my(e->y, Engine(), y);
    memory mwp = e->reorder ? memory(e->w_prim, Engine(), Buffers::Grow(t_buffers.kernel, e->w_prim.get_size())) : mw;
    memory scratch(dnnl::memory::desc({static_cast<memory::dim>(e->scratch)}, memory::data_type::u8, tag::a),
                   Engine(), Buffers::Grow(t_buffers.scratch, e->scratch + 1));
    if (kind != Kind::kKernelGrad && e->reorder) e->w_reorder.execute(stream, mw, mwp);
    if (kind == Kind::kForward) {
      e->prim.execute(stream, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mwp}, {DNNL_ARG_DST, my},
                               {DNNL_ARG_SCRATCHPAD, scratch}});
    } else if (kind == Kind::kInputGrad) {
      e->prim.execute(stream, {{DNNL_ARG_DIFF_SRC, mx}, {DNNL_ARG_WEIGHTS, mwp}, {DNNL_ARG_DIFF_DST, my},
                               {DNNL_ARG_SCRATCHPAD, scratch}});
    } else {
      e->prim.execute(stream, {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_WEIGHTS, mwp}, {DNNL_ARG_DIFF_DST, my},
                               {DNNL_ARG_SCRATCHPAD, scratch}});
      if (e->reorder) e->w_reorder.execute(stream, mwp, mw);
    }
    stream.wait();
  } catch (const dnnl::error& err) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("jcnn oneDNN convolution: ") + err.what());
  }
  return ffi::Error::Success();
}

std::vector<int64_t> Dims(const ffi::AnyBuffer& b) {
  auto d = b.dimensions();
  return std::vector<int64_t>(d.begin(), d.end());
}

std::vector<int64_t> Vec(ffi::Span<const int64_t> s) { return std::vector<int64_t>(s.begin(), s.end()); }

ffi::Error Handle(Kind kind, const ffi::AnyBuffer& x, const ffi::AnyBuffer& w, const ffi::AnyBuffer& y,
                  ffi::Span<const int64_t> stride, ffi::Span<const int64_t> pad_lo, ffi::Span<const int64_t> pad_hi,
                  ffi::Span<const int64_t> dilation, int64_t groups) {
  Conv c;
  switch (x.element_type()) {
    case ffi::DataType::F32: c.dtype = memory::data_type::f32; break;
    case ffi::DataType::BF16: c.dtype = memory::data_type::bf16; break;
    default: return ffi::Error::InvalidArgument("jcnn oneDNN convolution: only float32 and bfloat16");
  }
  c.x = Dims(x), c.w = Dims(w), c.y = Dims(y);
  c.stride = Vec(stride), c.pad_lo = Vec(pad_lo), c.pad_hi = Vec(pad_hi), c.dilation = Vec(dilation);
  c.groups = groups;
  const size_t nd = c.x.size() - 2;
  if (nd < 1 || nd > 3 || c.w.size() != nd + 2 || c.y.size() != nd + 2 || c.stride.size() != nd ||
      c.pad_lo.size() != nd || c.pad_hi.size() != nd || c.dilation.size() != nd) {
    return ffi::Error::InvalidArgument("jcnn oneDNN convolution: inconsistent ranks");
  }
  return Run(kind, c, x.untyped_data(), w.untyped_data(), y.untyped_data());
}

}  // namespace

// y = conv(x, w)
static ffi::Error Forward(ffi::AnyBuffer x, ffi::AnyBuffer w, ffi::Result<ffi::AnyBuffer> y,
                          ffi::Span<const int64_t> stride, ffi::Span<const int64_t> pad_lo,
                          ffi::Span<const int64_t> pad_hi, ffi::Span<const int64_t> dilation, int64_t groups) {
  return Handle(Kind::kForward, x, w, *y, stride, pad_lo, pad_hi, dilation, groups);
}

// dx = the input gradient of conv at w, given dy
static ffi::Error InputGrad(ffi::AnyBuffer dy, ffi::AnyBuffer w, ffi::Result<ffi::AnyBuffer> dx,
                            ffi::Span<const int64_t> stride, ffi::Span<const int64_t> pad_lo,
                            ffi::Span<const int64_t> pad_hi, ffi::Span<const int64_t> dilation, int64_t groups) {
  return Handle(Kind::kInputGrad, *dx, w, dy, stride, pad_lo, pad_hi, dilation, groups);
}

// dw = the kernel gradient of conv at x, given dy
static ffi::Error KernelGrad(ffi::AnyBuffer x, ffi::AnyBuffer dy, ffi::Result<ffi::AnyBuffer> dw,
                             ffi::Span<const int64_t> stride, ffi::Span<const int64_t> pad_lo,
                             ffi::Span<const int64_t> pad_hi, ffi::Span<const int64_t> dilation, int64_t groups) {
  return Handle(Kind::kKernelGrad, x, *dw, dy, stride, pad_lo, pad_hi, dilation, groups);
}

#define JCNN_CONV_ATTRS                          \
  .Attr<ffi::Span<const int64_t>>("stride")      \
      .Attr<ffi::Span<const int64_t>>("pad_lo")  \
      .Attr<ffi::Span<const int64_t>>("pad_hi")  \
      .Attr<ffi::Span<const int64_t>>("dilation") \
      .Attr<int64_t>("groups")

XLA_FFI_DEFINE_HANDLER_SYMBOL(jcnn_onednn_conv_fwd, Forward,
                              ffi::Ffi::Bind().Arg<ffi::AnyBuffer>().Arg<ffi::AnyBuffer>().Ret<ffi::AnyBuffer>()
                                  JCNN_CONV_ATTRS);
XLA_FFI_DEFINE_HANDLER_SYMBOL(jcnn_onednn_conv_dx, InputGrad,
                              ffi::Ffi::Bind().Arg<ffi::AnyBuffer>().Arg<ffi::AnyBuffer>().Ret<ffi::AnyBuffer>()
                                  JCNN_CONV_ATTRS);
XLA_FFI_DEFINE_HANDLER_SYMBOL(jcnn_onednn_conv_dw, KernelGrad,
                              ffi::Ffi::Bind().Arg<ffi::AnyBuffer>().Arg<ffi::AnyBuffer>().Ret<ffi::AnyBuffer>()
                                  JCNN_CONV_ATTRS);

extern "C" {
// OpenMP team size for the handlers; 0 leaves OpenMP's default (one thread per core).
void jcnn_onednn_set_num_threads(int n) { g_num_threads.store(n < 0 ? 0 : n); }
int jcnn_onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return v->major * 10000 + v->minor * 100 + v->patch;
}
}
