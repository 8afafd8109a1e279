// DLPack capsules made and read here, for what numpy's DLPack support cannot carry
// (bfloat16); the other dtypes go through numpy (python/tinygrad_cpp/_interop.py). Memory is
// shared both ways, never copied.
#include "python/bind.h"

namespace tg::bind {

namespace {
// The DLPack ABI (dlpack.h v0.8), the part this file needs.
struct DLDevice { int32_t device_type; int32_t device_id; };
struct DLDataType { uint8_t code; uint8_t bits; uint16_t lanes; };
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
enum { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6, kDLCPU = 1 };

DLDataType dl_dtype(DType d) {
  const uint8_t bits = uint8_t(itemsize(d) * 8);
  switch (d) {
    case DType::Bool: return {kDLBool, 8, 1};
    case DType::UInt8: return {kDLUInt, 8, 1};
    case DType::Int8: case DType::Int16: case DType::Int32: case DType::Int64: return {kDLInt, bits, 1};
    case DType::BFloat16: return {kDLBfloat, 16, 1};
    default: return {kDLFloat, bits, 1};
  }
}

DType from_dl_dtype(DLDataType t) {
  TG_CHECK(t.lanes == 1, RuntimeError, "Unsupported lanes ", t.lanes, " in DLPack tensor");
  switch (t.code) {
    case kDLBool: if (t.bits == 8) return DType::Bool; break;
    case kDLUInt: if (t.bits == 8) return DType::UInt8; break;
    case kDLInt:
      if (t.bits == 8) return DType::Int8;
      if (t.bits == 16) return DType::Int16;
      if (t.bits == 32) return DType::Int32;
      if (t.bits == 64) return DType::Int64;
      break;
    case kDLFloat:
      if (t.bits == 16) return DType::Float16;
      if (t.bits == 32) return DType::Float32;
      if (t.bits == 64) return DType::Float64;
      break;
    case kDLBfloat: if (t.bits == 16) return DType::BFloat16; break;
  }
  throw RuntimeError(cat_str("Unsupported DLPack dtype (code ", int(t.code), ", bits ", int(t.bits), ")"));
}

// What a capsule we made owns: the tensor (keeping its storage alive) and the arrays.
struct Ctx {
  Tensor t;
  std::vector<int64_t> shape, strides;
  DLManagedTensor m;
};

py::capsule to_dlpack(const Tensor& t) {
  auto* ctx = new Ctx{t, t->shape, t->strides, {}};
  DLTensor& d = ctx->m.dl_tensor;
  d.data = t->data();
  d.device = {kDLCPU, 0};
  d.ndim = (int32_t)t->ndim();
  d.dtype = dl_dtype(t->dtype);
  d.shape = ctx->shape.data();
  d.strides = ctx->strides.data();
  d.byte_offset = 0;
  ctx->m.manager_ctx = ctx;
  ctx->m.deleter = [](DLManagedTensor* m) { delete static_cast<Ctx*>(m->manager_ctx); };
  // A capsule never consumed deletes its tensor; a consumer renames it "used_dltensor".
  PyObject* cap = PyCapsule_New(&ctx->m, "dltensor", [](PyObject* c) {
    if (PyCapsule_IsValid(c, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(c, "dltensor"));
      if (m->deleter) m->deleter(m);
    }
  });
  if (!cap) {
    delete ctx;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(cap);
}

Tensor from_dlpack(py::capsule cap) {
  TG_CHECK(PyCapsule_IsValid(cap.ptr(), "dltensor"), RuntimeError,
           "from_dlpack received an invalid capsule (already consumed?)");
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  const DLTensor& d = m->dl_tensor;
  TG_CHECK(d.device.device_type == kDLCPU, RuntimeError, "from_dlpack: only CPU tensors are supported");
  auto t = std::make_shared<TensorImpl>();
  t->dtype = from_dl_dtype(d.dtype);
  t->shape.assign(d.shape, d.shape + d.ndim);
  t->strides = d.strides ? Shape(d.strides, d.strides + d.ndim) : contiguous_strides(t->shape);
  size_t extent = 0;
  bool empty_tensor = false;
  for (int i = 0; i < d.ndim; ++i) {
    TG_CHECK(t->strides[i] >= 0 || t->shape[i] <= 1, RuntimeError, "from_dlpack: negative strides are not supported");
    if (t->shape[i] == 0) empty_tensor = true;
    else extent += size_t((t->shape[i] - 1) * std::max<int64_t>(t->strides[i], 0));
  }
  const size_t nbytes = empty_tensor ? 0 : (extent + 1) * itemsize(t->dtype);
  std::shared_ptr<void> owner(m, [](void* p) {
    auto* mt = static_cast<DLManagedTensor*>(p);
    if (mt->deleter) mt->deleter(mt);
  });
  t->storage = Storage::wrap(static_cast<char*>(d.data) + d.byte_offset, nbytes, std::move(owner));
  PyCapsule_SetName(cap.ptr(), "used_dltensor");
  return t;
}
}  // namespace

void bind_dlpack(py::module_& m) {
  m.def("_to_dlpack", &to_dlpack);
  m.def("_from_dlpack", &from_dlpack);
}

}  // namespace tg::bind
