// A small stand-in for libFuzzer's main(), so that every fuzz target also builds with gcc in the
// ci preset (AddressSanitizer + UBSan) and CI can run it without clang: it replays the given
// corpus files and folders through LLVMFuzzerTestOneInput, then runs --runs seeded random
// mutations of them (bit flips, byte inserts and erases, repeated chunks, splices, JSON tokens)
// within --max-seconds. Not coverage-guided: the real fuzzing is the libFuzzer build (preset
// `fuzz`, see README.md). Under ASan, the input that crashed is written to ./fuzz-crash-input.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

std::vector<uint8_t> g_current;  // the input being run, for the crash callback

void WriteCrashInput() {
  if (FILE* f = std::fopen("fuzz-crash-input", "wb")) {
    if (!g_current.empty()) std::fwrite(g_current.data(), 1, g_current.size(), f);
    std::fclose(f);
    std::fprintf(stderr,
                 "standalone_driver: the failing input is in ./fuzz-crash-input (%zu bytes)\n",
                 g_current.size());
  }
}

void Run(const std::vector<uint8_t>& input) {
  g_current = input;
  // A copy of exactly `size` bytes, so that ASan sees reads past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() + (input.empty() ? 1 : 0)]);
  if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
  LLVMFuzzerTestOneInput(copy.get(), input.size());
}

bool ReadFile(const std::filesystem::path& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

const char* const kTokens[] = {"[",
                               "]",
                               "{",
                               "}",
                               "\"",
                               ":",
                               ",",
                               "null",
                               "true",
                               "-1e308",
                               "0.5",
                               "\\u0000",
                               "\\ud800",
                               "\r\n",
                               "{\"var\":\"a\"}",
                               "1e400",
                               "9223372036854775808",
                               "\xC3",
                               "\xFF",
                               "\"\":"};

std::vector<uint8_t> Mutate(const std::vector<std::vector<uint8_t>>& corpus, std::mt19937_64& rng,
                            size_t max_len) {
  std::vector<uint8_t> s = corpus[rng() % corpus.size()];
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int step = 0; step < steps; ++step) {
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 7) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng() % s.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // random byte inserted
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<uint8_t>(rng()));
        break;
      case 2: {  // erase a chunk
        if (s.empty()) break;
        const size_t at = rng() % s.size();
        const size_t n = 1 + rng() % std::min<size_t>(16, s.size() - at);
        s.erase(s.begin() + static_cast<std::ptrdiff_t>(at),
                s.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 3: {  // repeat a chunk
        if (s.empty()) break;
        const size_t at = rng() % s.size();
        const size_t n = 1 + rng() % std::min<size_t>(32, s.size() - at);
        std::vector<uint8_t> chunk(s.begin() + static_cast<std::ptrdiff_t>(at),
                                   s.begin() + static_cast<std::ptrdiff_t>(at + n));
        const size_t times = 1 + rng() % 8;
        for (size_t t = 0; t < times; ++t) {
          s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), chunk.begin(), chunk.end());
        }
        break;
      }
      case 4: {  // splice with another input
        const auto& other = corpus[rng() % corpus.size()];
        if (other.empty()) break;
        const size_t from = rng() % other.size();
        s.resize(pos);
        s.insert(s.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        break;
      }
      case 5: {  // a JSON token
        const char* t = kTokens[rng() % std::size(kTokens)];
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), t, t + std::strlen(t));
        break;
      }
      default:  // overwrite a byte with an interesting one
        if (!s.empty()) {
          static const uint8_t kBytes[] = {0, '0', '9', '-', '.', 'e', '"', '\\', '/', 0x7f, 0x80};
          s[rng() % s.size()] = kBytes[rng() % sizeof(kBytes)];
        }
        break;
    }
  }
  if (s.size() > max_len) s.resize(max_len);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(&WriteCrashInput);
#endif
  long runs = 0;
  double max_seconds = 0;
  uint64_t seed = 1;
  size_t max_len = 64 * 1024;
  std::vector<std::filesystem::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      const size_t n = std::strlen(name);
      return arg.compare(0, n, name) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--runs=")) {
      runs = std::atol(v);
    } else if (const char* v2 = value("--max-seconds=")) {
      max_seconds = std::atof(v2);
    } else if (const char* v3 = value("--seed=")) {
      seed = std::strtoull(v3, nullptr, 10);
    } else if (const char* v4 = value("--max-len=")) {
      max_len = std::strtoull(v4, nullptr, 10);
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr,
                   "usage: %s [--runs=N] [--max-seconds=S] [--seed=N] [--max-len=N] FILE|DIR...\n",
                   argv[0]);
      return 2;
    } else {
      paths.emplace_back(arg);
    }
  }
  std::vector<std::filesystem::path> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else {
      files.push_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::vector<uint8_t>> corpus;
  for (const auto& f : files) {
    std::vector<uint8_t> input;
    if (!ReadFile(f, &input)) {
      std::fprintf(stderr, "cannot read %s\n", f.c_str());
      return 2;
    }
    Run(input);
    corpus.push_back(std::move(input));
  }
  std::printf("replayed %zu inputs\n", corpus.size());
  if (corpus.empty()) corpus.emplace_back();
  std::mt19937_64 rng(seed);
  const auto start = std::chrono::steady_clock::now();
  long done = 0;
  for (; done < runs; ++done) {
    if (max_seconds > 0 && (done & 15) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
            max_seconds) {
      break;
    }
    Run(Mutate(corpus, rng, max_len));
  }
  std::printf("ran %ld mutations (seed %llu) in %.1f s: no failure\n", done,
              static_cast<unsigned long long>(seed),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
