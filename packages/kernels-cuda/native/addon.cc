// Napi glue over the C ABI in kvq_cuda.h (no CUDA headers here). Device pointers travel as BigInt;
// a failing call throws an Error with `cudaCode` and `cudaName`, which the TypeScript side types.
#include <napi.h>
#include <cstdint>
#include "kvq_cuda.h"

namespace {
void* P(const Napi::Value& v) {
  bool lossless = true;
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return reinterpret_cast<void*>(v.As<Napi::BigInt>().Uint64Value(&lossless));
}
int I(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }
double F(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }
size_t Z(const Napi::Value& v) { return static_cast<size_t>(v.As<Napi::Number>().Int64Value()); }

void Check(Napi::Env env, int code, const char* what) {
  if (code == 0) return;
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + kvq_error_name(code) + " (" +
                                            kvq_error_string(code) + ")");
  e.Set("cudaCode", Napi::Number::New(env, code));
  e.Set("cudaName", Napi::String::New(env, kvq_error_name(code)));
  throw e;
}
#define CK(call, what) Check(env, (call), what)

Napi::Value DriverVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int v = 0;
  int rc = kvq_driver_version(&v);
  Napi::Object o = Napi::Object::New(env);
  o.Set("code", rc);
  o.Set("version", v);
  return o;
}
Napi::Value DeviceCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  int rc = kvq_device_count(&n);
  Napi::Object o = Napi::Object::New(env);
  o.Set("code", rc);
  o.Set("name", rc ? kvq_error_name(rc) : "cudaSuccess");
  o.Set("message", rc ? kvq_error_string(rc) : "");
  o.Set("count", rc ? 0 : n);
  return o;
}
Napi::Value DeviceProps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char name[256];
  int major = 0, minor = 0, sms = 0;
  size_t total = 0;
  CK(kvq_device_props(I(info[0]), name, sizeof name, &major, &minor, &sms, &total), "cudaGetDeviceProperties");
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("major", major);
  o.Set("minor", minor);
  o.Set("multiProcessors", sms);
  o.Set("totalMemory", static_cast<double>(total));
  return o;
}
Napi::Value SetDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CK(kvq_set_device(I(info[0])), "cudaSetDevice");
  return env.Undefined();
}
Napi::Value MemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t f = 0, t = 0;
  CK(kvq_mem_info(&f, &t), "cudaMemGetInfo");
  Napi::Object o = Napi::Object::New(env);
  o.Set("free", static_cast<double>(f));
  o.Set("total", static_cast<double>(t));
  return o;
}
Napi::Value Malloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* p = nullptr;
  CK(kvq_malloc(&p, Z(info[0])), "cudaMalloc");
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}
Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CK(kvq_free(P(info[0])), "cudaFree");
  return env.Undefined();
}
// h2d(dst, typedArray, dstOffsetBytes?)
Napi::Value H2D(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray a = info[1].As<Napi::TypedArray>();
  uint8_t* src = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  size_t off = info.Length() > 2 ? Z(info[2]) : 0;
  CK(kvq_h2d(static_cast<uint8_t*>(P(info[0])) + off, src, a.ByteLength()), "cudaMemcpy H2D");
  return env.Undefined();
}
Napi::Value D2H(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray a = info[1].As<Napi::TypedArray>();
  uint8_t* dst = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  size_t off = info.Length() > 2 ? Z(info[2]) : 0;
  CK(kvq_d2h(dst, static_cast<uint8_t*>(P(info[0])) + off, a.ByteLength()), "cudaMemcpy D2H");
  return env.Undefined();
}
Napi::Value D2D(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CK(kvq_d2d(P(info[0]), P(info[1]), Z(info[2])), "cudaMemcpy D2D");
  return env.Undefined();
}
// d2d2D(dst, dpitchBytes, src, spitchBytes, widthBytes, height)
Napi::Value D2D2D(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CK(kvq_d2d_2d(P(info[0]), Z(info[1]), P(info[2]), Z(info[3]), Z(info[4]), Z(info[5])), "cudaMemcpy2D D2D");
  return env.Undefined();
}
Napi::Value Memset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CK(kvq_memset(P(info[0]), I(info[1]), Z(info[2])), "cudaMemset");
  return env.Undefined();
}
Napi::Value Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CK(kvq_sync(), "cudaDeviceSynchronize");
  return env.Undefined();
}
Napi::Value EventBegin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int busyNs = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  CK(kvq_event_begin(busyNs), "cudaEventRecord");
  return env.Undefined();
}
Napi::Value EventEnd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  float ms = 0;
  CK(kvq_event_end(&ms), "cudaEventElapsedTime");
  return Napi::Number::New(env, ms);
}
Napi::Value Fp16Encode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_fp16_encode((const float*)P(i[0]), (uint16_t*)P(i[1]), Z(i[2]), I(i[3])), "fp16 encode");
  return env.Undefined();
}
Napi::Value Fp16Decode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_fp16_decode((const uint16_t*)P(i[0]), (float*)P(i[1]), Z(i[2]), I(i[3])), "fp16 decode");
  return env.Undefined();
}
Napi::Value Fp8Encode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_fp8_encode((const float*)P(i[0]), (uint8_t*)P(i[1]), Z(i[2])), "fp8 encode");
  return env.Undefined();
}
Napi::Value Fp8Decode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_fp8_decode((const uint8_t*)P(i[0]), (float*)P(i[1]), Z(i[2])), "fp8 decode");
  return env.Undefined();
}
// (x, out, T, C, bits, axisToken, gs, half)
Napi::Value UniformEncode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  int rc = I(i[7]) ? kvq_uniform_encode_h((const uint16_t*)P(i[0]), (uint8_t*)P(i[1]), I(i[2]), I(i[3]), I(i[4]),
                                          I(i[5]), I(i[6]))
                   : kvq_uniform_encode((const float*)P(i[0]), (uint8_t*)P(i[1]), nullptr, I(i[2]), I(i[3]),
                                        I(i[4]), I(i[5]), I(i[6]));
  CK(rc, "uniform encode");
  return env.Undefined();
}
Napi::Value UniformDecode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  int rc = I(i[7]) ? kvq_uniform_decode_h((const uint8_t*)P(i[0]), (uint16_t*)P(i[1]), I(i[2]), I(i[3]), I(i[4]),
                                          I(i[5]), I(i[6]))
                   : kvq_uniform_decode((const uint8_t*)P(i[0]), (float*)P(i[1]), I(i[2]), I(i[3]), I(i[4]),
                                        I(i[5]), I(i[6]));
  CK(rc, "uniform decode");
  return env.Undefined();
}
Napi::Value UniformBytes(const Napi::CallbackInfo& i) {
  return Napi::Number::New(i.Env(), (double)kvq_uniform_bytes(I(i[0]), I(i[1]), I(i[2]), I(i[3]), I(i[4])));
}
Napi::Value Linear(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_linear((const float*)P(i[0]), (const float*)P(i[1]), (const float*)P(i[2]), (float*)P(i[3]), I(i[4]),
                I(i[5]), I(i[6])),
     "linear");
  return env.Undefined();
}
Napi::Value RmsNorm(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_rmsnorm((const float*)P(i[0]), (const float*)P(i[1]), (float*)P(i[2]), I(i[3]), I(i[4]), (float)F(i[5])),
     "rmsNorm");
  return env.Undefined();
}
Napi::Value Rope(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_rope((const float*)P(i[0]), (float*)P(i[1]), (const int*)P(i[2]), I(i[3]), I(i[4]), I(i[5]), I(i[6]),
              (float)F(i[7]), (float)F(i[8]), I(i[9]), I(i[10])),
     "rope");
  return env.Undefined();
}
Napi::Value Swiglu(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_swiglu((const float*)P(i[0]), (const float*)P(i[1]), (float*)P(i[2]), Z(i[3])), "swiglu");
  return env.Undefined();
}
Napi::Value AttentionF32(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_attention_f32((const float*)P(i[0]), (const float*)P(i[1]), (const float*)P(i[2]), (float*)P(i[3]),
                       I(i[4]), I(i[5]), I(i[6]), I(i[7]), I(i[8]), I(i[9]), (float)F(i[10])),
     "attention");
  return env.Undefined();
}
// (q, pool, pageTable, lens, out, partial, B, Hq, Hkv, maxPages, P, splitPages, scale, impl)
Napi::Value DecodeAttnF16(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_decode_attn_f16((const uint16_t*)P(i[0]), (const uint16_t*)P(i[1]), (const int*)P(i[2]),
                         (const int*)P(i[3]), (uint16_t*)P(i[4]), (float*)P(i[5]), I(i[6]), I(i[7]), I(i[8]),
                         I(i[9]), I(i[10]), I(i[11]), (float)F(i[12]), I(i[13])),
     "decode attention fp16");
  return env.Undefined();
}
// (... as fp16, then bitsK, gsK, bitsV, gsV, impl)
Napi::Value DecodeAttnUniform(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_decode_attn_uniform((const uint16_t*)P(i[0]), (const uint8_t*)P(i[1]), (const int*)P(i[2]),
                             (const int*)P(i[3]), (uint16_t*)P(i[4]), (float*)P(i[5]), I(i[6]), I(i[7]), I(i[8]),
                             I(i[9]), I(i[10]), I(i[11]), (float)F(i[12]), I(i[13]), I(i[14]), I(i[15]), I(i[16]),
                             I(i[17])),
     "decode attention uniform");
  return env.Undefined();
}

// (... as fp16, then cbK, cbV, lutK, lutV, signsK, signsV)
Napi::Value DecodeAttnHiggs(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_decode_attn_higgs((const uint16_t*)P(i[0]), (const uint8_t*)P(i[1]), (const int*)P(i[2]),
                           (const int*)P(i[3]), (uint16_t*)P(i[4]), (float*)P(i[5]), I(i[6]), I(i[7]), I(i[8]),
                           I(i[9]), I(i[10]), I(i[11]), (float)F(i[12]), I(i[13]), I(i[14]), (const float*)P(i[15]),
                           (const float*)P(i[16]), (const float*)P(i[17]), (const float*)P(i[18])),
     "decode attention higgs");
  return env.Undefined();
}
// (... as fp16, then chain: BigInt[NV − 1], cbK, cbV, lutK, lutV, signsK, maps, bias, keyFold | null,
//  keyPartner | null)
Napi::Value DecodeAttnHiggsChain(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  const Napi::Array arr = i[13].As<Napi::Array>();
  const uint32_t n = arr.Length();
  if (n < 1 || n > 3) {
    Napi::RangeError::New(env, "decodeAttnHiggsChain: 1 to 3 earlier value pools").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint8_t* chain[3] = {nullptr, nullptr, nullptr};
  for (uint32_t j = 0; j < n; j++) chain[j] = (const uint8_t*)P(arr.Get(j));
  CK(kvq_decode_attn_higgs_chain((const uint16_t*)P(i[0]), (const uint8_t*)P(i[1]), chain, (int)n + 1,
                                 (const int*)P(i[2]), (const int*)P(i[3]), (uint16_t*)P(i[4]), (float*)P(i[5]),
                                 I(i[6]), I(i[7]), I(i[8]), I(i[9]), I(i[10]), I(i[11]), (float)F(i[12]), I(i[14]),
                                 I(i[15]), (const float*)P(i[16]), (const float*)P(i[17]), (const float*)P(i[18]),
                                 (const float*)P(i[19]), (const float*)P(i[20]), (const float*)P(i[21]),
                                 (const int*)P(i[22])),
     "decode attention higgs chain");
  return env.Undefined();
}
Napi::Value DecodeAttnHiggsChainOk(const Napi::CallbackInfo& i) {
  return Napi::Boolean::New(i.Env(),
                            kvq_decode_attn_higgs_chain_ok(I(i[0]), I(i[1]), I(i[2]), I(i[3]), I(i[4])) != 0);
}
Napi::Value DecodeAttnHiggsOk(const Napi::CallbackInfo& i) {
  return Napi::Boolean::New(i.Env(), kvq_decode_attn_higgs_ok(I(i[0]), I(i[1]), I(i[2]), I(i[3])) != 0);
}

// (x, out, codes, T, C, B, dim, codeBits, table, tableLen, mids, signs, norm, gain, zeroCode, err)
Napi::Value HiggsEncode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_higgs_encode((const float*)P(i[0]), (uint8_t*)P(i[1]), (uint16_t*)P(i[2]), I(i[3]), I(i[4]), I(i[5]),
                      I(i[6]), I(i[7]), (const float*)P(i[8]), I(i[9]), (const double*)P(i[10]),
                      (const float*)P(i[11]), (float)F(i[12]), F(i[13]), I(i[14]), (int*)P(i[15])),
     "higgs encode");
  return env.Undefined();
}
// (in, out, T, C, B, dim, codeBits, table, signs, norm)
Napi::Value HiggsDecode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_higgs_decode((const uint8_t*)P(i[0]), (float*)P(i[1]), I(i[2]), I(i[3]), I(i[4]), I(i[5]), I(i[6]),
                      (const float*)P(i[7]), (const float*)P(i[8]), (float)F(i[9])),
     "higgs decode");
  return env.Undefined();
}
Napi::Value HiggsMaxBlock(const Napi::CallbackInfo& i) { return Napi::Number::New(i.Env(), kvq_higgs_max_block()); }
// (x, out, codes, T, C, bits, axisToken, gs, norm, mids, zeroCode, err)
Napi::Value CodebookEncode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_codebook_encode((const float*)P(i[0]), (uint8_t*)P(i[1]), (uint16_t*)P(i[2]), I(i[3]), I(i[4]), I(i[5]),
                         I(i[6]), I(i[7]), I(i[8]), (const double*)P(i[9]), I(i[10]), (int*)P(i[11])),
     "codebook encode");
  return env.Undefined();
}
// (in, out, T, C, bits, axisToken, gs, norm, levels)
Napi::Value CodebookDecode(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_codebook_decode((const uint8_t*)P(i[0]), (float*)P(i[1]), I(i[2]), I(i[3]), I(i[4]), I(i[5]), I(i[6]),
                         I(i[7]), (const float*)P(i[8])),
     "codebook decode");
  return env.Undefined();
}

// (x, out, work, T, C, axisToken, k, err)
Napi::Value OutliersSelect(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_outliers_select((const float*)P(i[0]), (uint8_t*)P(i[1]), (float*)P(i[2]), I(i[3]), I(i[4]), I(i[5]),
                         I(i[6]), (int*)P(i[7])),
     "outliers select");
  return env.Undefined();
}
// (in, out, T, C, axisToken, k)
Napi::Value OutliersScatter(const Napi::CallbackInfo& i) {
  Napi::Env env = i.Env();
  CK(kvq_outliers_scatter((const uint8_t*)P(i[0]), (float*)P(i[1]), I(i[2]), I(i[3]), I(i[4]), I(i[5])),
     "outliers scatter");
  return env.Undefined();
}
Napi::Value OutliersKmax(const Napi::CallbackInfo& i) { return Napi::Number::New(i.Env(), kvq_outliers_kmax()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#define E(name, fn) exports.Set(name, Napi::Function::New(env, fn, name))
  E("driverVersion", DriverVersion);
  E("deviceCount", DeviceCount);
  E("deviceProps", DeviceProps);
  E("setDevice", SetDevice);
  E("memInfo", MemInfo);
  E("malloc", Malloc);
  E("free", Free);
  E("h2d", H2D);
  E("d2h", D2H);
  E("d2d", D2D);
  E("d2d2D", D2D2D);
  E("memset", Memset);
  E("sync", Sync);
  E("eventBegin", EventBegin);
  E("eventEnd", EventEnd);
  E("fp16Encode", Fp16Encode);
  E("fp16Decode", Fp16Decode);
  E("fp8Encode", Fp8Encode);
  E("fp8Decode", Fp8Decode);
  E("uniformEncode", UniformEncode);
  E("uniformDecode", UniformDecode);
  E("uniformBytes", UniformBytes);
  E("higgsEncode", HiggsEncode);
  E("higgsDecode", HiggsDecode);
  E("higgsMaxBlock", HiggsMaxBlock);
  E("codebookEncode", CodebookEncode);
  E("codebookDecode", CodebookDecode);
  E("outliersSelect", OutliersSelect);
  E("outliersScatter", OutliersScatter);
  E("outliersKmax", OutliersKmax);
  E("linear", Linear);
  E("rmsNorm", RmsNorm);
  E("rope", Rope);
  E("swiglu", Swiglu);
  E("attentionF32", AttentionF32);
  E("decodeAttnF16", DecodeAttnF16);
  E("decodeAttnUniform", DecodeAttnUniform);
  E("decodeAttnHiggs", DecodeAttnHiggs);
  E("decodeAttnHiggsOk", DecodeAttnHiggsOk);
  E("decodeAttnHiggsChain", DecodeAttnHiggsChain);
  E("decodeAttnHiggsChainOk", DecodeAttnHiggsChainOk);
#undef E
  return exports;
}
}  // namespace

NODE_API_MODULE(kvq_cuda, Init)
