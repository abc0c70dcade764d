#include "addon/device_binding.h"

#include <memory>

#include "addon/args.h"
#include "device/device.h"
#include "device/event_budget.h"

namespace wgvm::addon {
namespace {

using device::Device;
using device::DeviceEvent;

Napi::Value key_buffer(Napi::Env env, const crypto::Key& k) { return Napi::Buffer<uint8_t>::Copy(env, k.data(), k.size()); }

Napi::Value endpoint_value(Napi::Env env, const protocol::Endpoint& e) {
  if (!e.valid()) return env.Null();
  return Napi::String::New(env, protocol::to_string(e));
}

constexpr int kMaxThreads = 256;

class DeviceWrap : public Napi::ObjectWrap<DeviceWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Device",
                       {InstanceMethod("set", &DeviceWrap::Set), InstanceMethod("get", &DeviceWrap::Get),
                        InstanceMethod("peers", &DeviceWrap::Peers), InstanceMethod("counters", &DeviceWrap::Counters),
                        InstanceMethod("setRelay", &DeviceWrap::SetRelay),
                        InstanceMethod("fenceAfter", &DeviceWrap::FenceAfter),
                        InstanceMethod("setIsolated", &DeviceWrap::SetIsolated),
                        InstanceMethod("initiateHandshake", &DeviceWrap::InitiateHandshake),
                        InstanceMethod("close", &DeviceWrap::Close), InstanceAccessor("name", &DeviceWrap::Name, nullptr),
                        InstanceAccessor("threads", &DeviceWrap::Threads, nullptr)});
  }

  // new Device(name, { mtu?, threads?, onEvent? })
  explicit DeviceWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "interface name must be a string");
    const std::string name = info[0].As<Napi::String>();
    size_t mtu = 1420;
    size_t threads = 0;  // one per available core
    Napi::Function on_event;
    if (info[1].IsObject()) {
      Napi::Object options = info[1].As<Napi::Object>();
      if (options.Has("mtu")) {
        const uint32_t m = options.Get("mtu").ToNumber().Uint32Value();
        if (m < 576 || m > 65535) throw Napi::RangeError::New(env, "mtu must be 576..65535");
        mtu = m;
      }
      if (options.Has("threads") && !options.Get("threads").IsUndefined()) {
        const Napi::Value t = options.Get("threads");
        const double n = t.IsNumber() ? t.As<Napi::Number>().DoubleValue() : -1;
        if (!(n >= 1 && n <= kMaxThreads) || n != static_cast<double>(static_cast<uint32_t>(n)))
          throw Napi::RangeError::New(env, "threads must be an integer from 1 to " + std::to_string(kMaxThreads));
        threads = static_cast<size_t>(n);
      }
      if (options.Get("onEvent").IsFunction()) on_event = options.Get("onEvent").As<Napi::Function>();
    }
    if (!on_event.IsEmpty()) {
      events_ = Napi::ThreadSafeFunction::New(env, on_event, "wgvm-device-events", 0, 1);
      events_.Unref(env);  // events alone must not keep the process alive
    }
    // Events waiting for the JS thread are bounded (device/event_budget.h).
    auto budget = std::make_shared<device::EventBudget>();
    auto sink = [tsfn = events_, budget](const DeviceEvent& ev) mutable {
      if (!tsfn) return;
      if (!budget->admit(ev.kind == DeviceEvent::Kind::kStopped)) return;
      auto* copy = new DeviceEvent(ev);
      const napi_status status = tsfn.NonBlockingCall(copy, [budget](Napi::Env env, Napi::Function fn, DeviceEvent* e) {
        std::unique_ptr<DeviceEvent> owned(e);
        budget->release();
        if (env == nullptr || fn.IsEmpty()) return;
        auto obj = Napi::Object::New(env);
        const char* kind = e->kind == DeviceEvent::Kind::kHandshake ? "handshake"
                           : e->kind == DeviceEvent::Kind::kEndpoint ? "endpoint"
                                                                      : "stopped";
        obj.Set("type", kind);
        if (e->kind != DeviceEvent::Kind::kStopped) {
          obj.Set("publicKey", key_buffer(env, e->public_key));
          obj.Set("endpoint", endpoint_value(env, e->endpoint));
        } else {
          obj.Set("reason", e->reason);
        }
        fn.Call({obj});
      });
      if (status != napi_ok) {
        delete copy;
        budget->release();
      }
    };
    try {
      device_ = std::make_unique<Device>(name, mtu, threads, std::move(sink));
    } catch (...) {
      if (events_) events_.Release();  // nothing can be queued yet: release the callback now
      throw;
    }
  }

  ~DeviceWrap() override { shutdown(); }

 private:
  Device& device(Napi::Env env) {
    if (!device_) throw Napi::Error::New(env, "device is closed");
    return *device_;
  }

  void shutdown() {
    device_.reset();  // joins the thread: no event is produced after this
    if (events_) {
      // Release, not Abort: events still queued are delivered (and freed) on the JS thread.
      events_.Release();
      events_ = Napi::ThreadSafeFunction();
    }
  }

  // set(uapiBody) → { errno, message }
  Napi::Value Set(const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "UAPI request must be a string");
    const std::string body = info[0].As<Napi::String>();
    const auto result = device(info.Env()).set(body);
    auto obj = Napi::Object::New(info.Env());
    obj.Set("errno", result.errno_value);
    obj.Set("message", result.message);
    return obj;
  }

  Napi::Value Get(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device(info.Env()).get()); }

  // peers() → [{ publicKey, endpoint, localAddress, lastHandshakeNs, rxBytes, txBytes }]: cheap enough to poll.
  Napi::Value Peers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto peers = device(env).peers();
    auto arr = Napi::Array::New(env, peers.size());
    for (size_t i = 0; i < peers.size(); ++i) {
      const auto& p = peers[i];
      auto obj = Napi::Object::New(env);
      obj.Set("publicKey", key_buffer(env, p.public_key));
      obj.Set("endpoint", endpoint_value(env, p.endpoint));
      const std::string source = protocol::source_to_string(p.endpoint);
      obj.Set("localAddress", source.empty() ? env.Null() : Napi::String::New(env, source));
      obj.Set("lastHandshakeNs", Napi::BigInt::New(env, p.last_handshake_ns));
      obj.Set("rxBytes", Napi::BigInt::New(env, p.rx_bytes));
      obj.Set("txBytes", Napi::BigInt::New(env, p.tx_bytes));
      arr.Set(i, obj);
    }
    return arr;
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto c = device(env).counters();
    auto drops = Napi::Object::New(env);
    for (size_t i = 0; i < static_cast<size_t>(protocol::Drop::kCount); ++i)
      drops.Set(protocol::drop_name(static_cast<protocol::Drop>(i)), Napi::Number::New(env, double(c.drops[i])));
    auto obj = Napi::Object::New(env);
    obj.Set("drops", drops);
    obj.Set("tunWriteErrors", Napi::Number::New(env, double(c.tun_write_errors)));
    obj.Set("tunMalformed", Napi::Number::New(env, double(c.tun_malformed)));
    obj.Set("udpSendErrors", Napi::Number::New(env, double(c.udp_send_errors)));
    obj.Set("relayed", Napi::Number::New(env, double(c.relayed)));
    obj.Set("relayedBytes", Napi::Number::New(env, double(c.relayed_bytes)));
    obj.Set("handshakesAdmitted", Napi::Number::New(env, double(c.handshakes_admitted)));
    obj.Set("underLoad", Napi::Boolean::New(env, c.under_load));
    return obj;
  }

  // fenceAfter(ms): the device stops by itself after ms milliseconds unless called again; 0: never.
  Napi::Value FenceAfter(const Napi::CallbackInfo& info) {
    const double ms = info[0].As<Napi::Number>().DoubleValue();
    if (!(ms >= 0 && ms <= 86'400'000)) throw Napi::RangeError::New(info.Env(), "fenceAfter: milliseconds must be 0 to 86400000");
    device(info.Env()).fence_after(static_cast<protocol::Nanos>(ms * protocol::kMillisecond));
    return info.Env().Undefined();
  }

  Napi::Value SetRelay(const Napi::CallbackInfo& info) {
    device(info.Env()).set_relay(info[0].ToBoolean());
    return info.Env().Undefined();
  }

  // setIsolated(publicKey, isolated) → false when no such peer
  Napi::Value SetIsolated(const Napi::CallbackInfo& info) {
    Bytes key = bytes_arg(info, 0, "public key", 32);
    crypto::Key k;
    std::copy(key.begin(), key.end(), k.begin());
    return Napi::Boolean::New(info.Env(), device(info.Env()).set_isolated(k, info[1].ToBoolean()));
  }

  // initiateHandshake(publicKey) → false when no such peer or it has no endpoint
  Napi::Value InitiateHandshake(const Napi::CallbackInfo& info) {
    Bytes key = bytes_arg(info, 0, "public key", 32);
    crypto::Key k;
    std::copy(key.begin(), key.end(), k.begin());
    return Napi::Boolean::New(info.Env(), device(info.Env()).initiate_handshake(k));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Name(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), device(info.Env()).name()); }
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(device(info.Env()).threads()));
  }

  std::unique_ptr<Device> device_;
  Napi::ThreadSafeFunction events_;
};

}  // namespace

Napi::Function device_class(Napi::Env env) { return DeviceWrap::define(env); }

}  // namespace wgvm::addon
