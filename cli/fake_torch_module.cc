// A stand-in libjoulecast-torch.so for tests: it has the entry point but answers no version,
// as a module from another build would.
extern "C" __attribute__((visibility("default"))) const void* joulecast_torch_backend(int) {
  return nullptr;
}
