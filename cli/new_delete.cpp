// The CLI's global operator new / delete: mimalloc's, except that running out of memory throws
// std::bad_alloc (main() prints "error: out of memory" and exits 1). mimalloc's own operator new, which
// the shared library exports, aborts the process when an allocation fails (it cannot throw from C and
// does not see std::set_new_handler), so a file that made us ask for 16 GB ended in SIGABRT with no
// message. Definitions in the executable take precedence over the library's.
#include <mimalloc.h>

#include <cstddef>
#include <new>

// Sanitizer builds keep AddressSanitizer's own operator new / delete (it must see every allocation).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FX_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FX_ASAN 1
#endif
#ifndef FX_ASAN

namespace {

void* checked(void* p) {
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) { return checked(mi_malloc(n)); }
void* operator new[](std::size_t n) { return checked(mi_malloc(n)); }
void* operator new(std::size_t n, std::align_val_t a) { return checked(mi_malloc_aligned(n, static_cast<size_t>(a))); }
void* operator new[](std::size_t n, std::align_val_t a) {
  return checked(mi_malloc_aligned(n, static_cast<size_t>(a)));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return mi_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return mi_malloc(n); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return mi_malloc_aligned(n, static_cast<size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return mi_malloc_aligned(n, static_cast<size_t>(a));
}

void operator delete(void* p) noexcept { mi_free(p); }
void operator delete[](void* p) noexcept { mi_free(p); }
void operator delete(void* p, std::size_t) noexcept { mi_free(p); }
void operator delete[](void* p, std::size_t) noexcept { mi_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { mi_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { mi_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { mi_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { mi_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { mi_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { mi_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { mi_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { mi_free(p); }

#endif  // FX_ASAN
