#include "runtime/io/live_input.h"

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "runtime/error.h"

namespace fx {

namespace {

bool has_image_extension(const std::string& name) {
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"};
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* e : exts) {
    size_t n = std::char_traits<char>::length(e);
    if (lower.size() > n && lower.compare(lower.size() - n, n, e) == 0) return true;
  }
  return false;
}

// "f2" < "f10": runs of digits compare by value.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i0 = i, j0 = j;
      while (i0 < a.size() && a[i0] == '0') ++i0;
      while (j0 < b.size() && b[j0] == '0') ++j0;
      size_t i1 = i0, j1 = j0;
      while (i1 < a.size() && std::isdigit(static_cast<unsigned char>(a[i1]))) ++i1;
      while (j1 < b.size() && std::isdigit(static_cast<unsigned char>(b[j1]))) ++j1;
      if (i1 - i0 != j1 - j0) return i1 - i0 < j1 - j0;
      int c = a.compare(i0, i1 - i0, b, j0, j1 - j0);
      if (c != 0) return c < 0;
      i = i1, j = j1;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i, ++j;
  }
  return a.size() - i < b.size() - j;
}

}  // namespace

bool is_url(const std::string& path) { return path.find("://") != std::string::npos; }

bool is_live_protocol(const std::string& path) {
  for (const char* p : {"rtsp://", "rtsps://", "rtmp://", "rtmps://", "rtp://", "udp://", "srt://", "tcp://"})
    if (path.rfind(p, 0) == 0) return true;
  return false;
}

bool is_camera(const std::string& path, std::string* device) {
  if (path.rfind("v4l2:", 0) == 0) {
    *device = path.substr(5);
    return true;
  }
  if (path.rfind("/dev/video", 0) == 0) {
    *device = path;
    return true;
  }
  return false;
}

std::vector<std::string> image_list(const std::string& path) {
  std::vector<std::string> files;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::string dir = path.back() == '/' ? path : path + "/";
    if (DIR* d = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.' && has_image_extension(e->d_name)) files.push_back(dir + e->d_name);
      ::closedir(d);
    }
    if (files.empty())
      throw Error("folder '" + path + "' has no images (.png, .jpg, .jpeg, .bmp, .ppm, .pgm, .tif, .tiff, .webp)");
  } else if (path.find_first_of("*?[") != std::string::npos && !is_url(path)) {
    glob_t g{};
    int r = ::glob(path.c_str(), 0, nullptr, &g);
    size_t matched = r == 0 ? g.gl_pathc : 0;
    for (size_t i = 0; i < matched; ++i)
      if (has_image_extension(g.gl_pathv[i])) files.push_back(g.gl_pathv[i]);
    ::globfree(&g);
    if (matched == 0) throw Error("no file matches '" + path + "'");
    if (files.empty())
      throw Error("no image matches '" + path + "' (.png, .jpg, .jpeg, .bmp, .ppm, .pgm, .tif, .tiff, .webp)");
  } else {
    return files;
  }
  std::sort(files.begin(), files.end(), natural_less);
  return files;
}

}  // namespace fx
