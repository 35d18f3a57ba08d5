// VideoReader / VideoWriter: decoding, pixel fidelity, codec motion vectors, errors, real clips.
//
// The core tests make their own clips (VideoWriter on libavcodec: ffv1, mpeg4, libx264 when present) in
// a temporary directory; the tests on the shared sample clips skip when those are absent.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/io/video_writer.h"
#include "test_util.h"
#include "synthetic_texture.h"
#include "test_skip.h"

namespace fs = std::filesystem;
using fx::Frame;
using fx::VideoReader;
using fx::VideoWriter;
using fx::VideoWriterOptions;

namespace {

using fx::test::TempDir;

// The shared sample clips, wherever this checkout has them; "" when absent. FLUXSHARD_ASSETS, when set,
// is the only place looked at.
std::string asset(const std::string& rel) {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("FLUXSHARD_ASSETS")) {
    const std::string p = std::string(env) + "/" + rel;
    return fs::exists(p) ? p : "";
  }
  roots.push_back(std::string(FLUXSHARD_SOURCE_DIR) + "/shared/assets");
  roots.push_back(std::string(FLUXSHARD_SOURCE_DIR) + "/../shared/assets");
  roots.push_back("/work/shared/assets");
  for (const auto& r : roots)
    if (fs::exists(r + "/" + rel)) return r + "/" + rel;
  return "";
}

using fx::test::error_of;

using fx::test::texture;

// Frame t of a clip whose content moves by (+dx, +dy) pixels per frame.
void moving_frame(std::vector<uint8_t>& rgb, int w, int h, int t, int dx, int dy) {
  rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = texture(x - dx * t + 500, y - dy * t + 500, c);
}

std::string write_moving_clip(const TempDir& t, const std::string& name, const std::string& codec, int w, int h,
                              int frames, int dx, int dy) {
  const std::string path = t.file(name);
  VideoWriterOptions o;
  o.codec = codec;
  o.max_b_frames = 0;
  o.gop = 250;
  o.qscale = 2;
  o.crf = 18;
  VideoWriter wr(path, w, h, 25, o);
  std::vector<uint8_t> rgb;
  for (int i = 0; i < frames; ++i) {
    moving_frame(rgb, w, h, i, dx, dy);
    wr.write(rgb.data());
  }
  wr.close();
  return path;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int64_t count_frames(const std::string& path, int* w = nullptr, int* h = nullptr) {
  VideoReader r(path);
  Frame f;
  int64_t n = 0;
  while (r.read(f)) {
    if (w) *w = f.width;
    if (h) *h = f.height;
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("a PPM written by hand decodes exactly as a still image", "[video_io]") {
  TempDir t;
  const int w = 37, h = 23;  // odd sizes on purpose
  std::string ppm = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  std::vector<uint8_t> px(w * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      px[(y * w + x) * 3 + 0] = static_cast<uint8_t>(x * 7);
      px[(y * w + x) * 3 + 1] = static_cast<uint8_t>(y * 11);
      px[(y * w + x) * 3 + 2] = static_cast<uint8_t>(255 - x - y);
    }
  ppm.append(reinterpret_cast<const char*>(px.data()), px.size());
  write_file(t.file("grad.ppm"), ppm);

  VideoReader r(t.file("grad.ppm"));
  CHECK(r.is_image());
  CHECK(r.width() == w);
  CHECK(r.height() == h);
  CHECK(r.codec_name() == "ppm");
  Frame f;
  REQUIRE(r.read(f));
  CHECK(f.width == w);
  CHECK(f.height == h);
  CHECK(f.index == 0);
  CHECK((f.rgb == px));  // RGB order, no conversion loss
  CHECK(f.mvs.empty());
  CHECK_FALSE(r.read(f));
  CHECK_FALSE(r.read(f));  // and stays at the end
}

TEST_CASE("lossless ffv1 clip round-trips exactly, with indices, times and buffer reuse", "[video_io]") {
  TempDir t;
  const int w = 64, h = 48, n = 8;
  const std::string path = t.file("clip.mkv");
  std::vector<std::vector<uint8_t>> frames;
  {
    VideoWriterOptions o;
    o.codec = "ffv1";
    VideoWriter wr(path, w, h, 25, o);
    CHECK(wr.codec_name() == "ffv1");
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> rgb;
      moving_frame(rgb, w, h, i, 2, 1);
      rgb[0] = static_cast<uint8_t>(i);  // a marker per frame
      frames.push_back(rgb);
      wr.write(rgb.data());
    }
    CHECK(wr.frames_written() == n);
  }  // the destructor closes
  VideoReader r(path);
  CHECK_FALSE(r.is_image());
  CHECK(r.codec_name() == "ffv1");
  CHECK(r.width() == w);
  CHECK(r.height() == h);
  CHECK(r.fps() == Approx(25.0));
  const int64_t est = r.frame_count_estimate();
  CHECK((est == -1 || std::llabs(est - n) <= 1));
  Frame f;
  const uint8_t* buffer = nullptr;
  int count = 0;
  while (r.read(f)) {
    REQUIRE(count < n);
    CHECK(f.index == count);
    CHECK(f.time_s == Approx(count / 25.0).margin(1e-3));
    CHECK(f.width == w);
    CHECK(f.height == h);
    CHECK((f.rgb == frames[count]));
    if (count == 0) buffer = f.rgb.data();
    CHECK(f.rgb.data() == buffer);  // no reallocation while the size stays
    ++count;
  }
  CHECK(count == n);
}

TEST_CASE("yuv420p encoders: solid colours come back within tolerance", "[video_io]") {
  const std::vector<std::array<int, 3>> colours = {{200, 30, 60}, {20, 180, 90}, {128, 128, 128}, {250, 250, 250},
                                                    {10, 10, 10}, {40, 60, 230}};
  std::vector<std::string> codecs = {"mpeg4"};
  if (VideoWriter::has_encoder("libx264")) codecs.push_back("libx264");
  for (const auto& codec : codecs) {
    SECTION(codec) {
      TempDir t;
      const int w = 64, h = 48;
      const std::string path = t.file("solid.mp4");
      {
        VideoWriterOptions o;
        o.codec = codec;
        o.qscale = 2;
        o.crf = 10;
        VideoWriter wr(path, w, h, 10, o);
        for (const auto& c : colours) {
          std::vector<uint8_t> rgb(w * h * 3);
          for (int i = 0; i < w * h; ++i)
            for (int k = 0; k < 3; ++k) rgb[i * 3 + k] = static_cast<uint8_t>(c[k]);
          wr.write(rgb.data());
        }
      }
      VideoReader r(path);
      Frame f;
      size_t i = 0;
      while (r.read(f)) {
        REQUIRE(i < colours.size());
        for (int k = 0; k < 3; ++k) {
          const int v = f.rgb[((h / 2) * w + w / 2) * 3 + k];
          INFO(codec << " frame " << i << " channel " << k << " got " << v << " want " << colours[i][k]);
          CHECK(std::abs(v - colours[i][k]) <= 4);
        }
        ++i;
      }
      CHECK(i == colours.size());
    }
  }
}

TEST_CASE("JPEG (full-range yuvj420p) decodes to the right colours", "[video_io]") {
  TempDir t;
  const int w = 32, h = 32;
  const std::string path = t.file("solid.jpg");
  std::vector<uint8_t> rgb(w * h * 3);
  for (int i = 0; i < w * h; ++i) rgb[i * 3] = 235, rgb[i * 3 + 1] = 20, rgb[i * 3 + 2] = 120;
  fx::write_image(path, rgb.data(), w, h);
  VideoReader r(path);
  CHECK(r.is_image());
  CHECK(r.codec_name() == "mjpeg");
  Frame f;
  REQUIRE(r.read(f));
  const uint8_t* p = &f.rgb[(16 * w + 16) * 3];
  // Treating full range as limited would stretch these by ~16%: 235 -> 255, 20 -> 5.
  CHECK(std::abs(p[0] - 235) <= 4);
  CHECK(std::abs(p[1] - 20) <= 4);
  CHECK(std::abs(p[2] - 120) <= 4);
}

TEST_CASE("codec motion vectors follow the planted translation", "[video_io][mv]") {
  const int dx = 3, dy = 2;  // content moves right 3, down 2 per frame
  std::vector<std::string> codecs = {"mpeg4"};
  if (VideoWriter::has_encoder("libx264")) codecs.push_back("libx264");
  for (const auto& codec : codecs) {
    SECTION(codec) {
      TempDir t;
      const int w = 320, h = 240, n = 8;
      const std::string path = write_moving_clip(t, "moving.mp4", codec, w, h, n, dx, dy);
      VideoReader r(path);
      Frame f;
      size_t total = 0, planted = 0, frames_with_mvs = 0;
      while (r.read(f)) {
        if (f.index == 0) {
          CHECK(f.key_frame);
          CHECK(f.mvs.empty());  // intra frame
          continue;
        }
        if (!f.mvs.empty()) ++frames_with_mvs;
        for (const auto& mv : f.mvs) {
          CHECK(mv.source < 0);  // no B frames: all from the past
          // interior blocks only: the edges show newly exposed content
          if (mv.dst_x < 24 || mv.dst_y < 24 || mv.dst_x > w - 24 || mv.dst_y > h - 24) continue;
          ++total;
          if (mv.dst_x - mv.src_x == dx && mv.dst_y - mv.src_y == dy) {
            ++planted;
            CHECK(mv.motion_x == -dx * mv.motion_scale);
            CHECK(mv.motion_y == -dy * mv.motion_scale);
          }
        }
      }
      INFO(codec << ": " << planted << " of " << total << " interior MVs equal the planted motion");
      CHECK(frames_with_mvs == static_cast<size_t>(n - 1));
      CHECK(total > 0);
      CHECK(planted * 10 >= total * 8);  // at least 80 %
    }
  }
}

TEST_CASE("decoding is deterministic (threaded decoder)", "[video_io]") {
  TempDir t;
  const std::string path =
      write_moving_clip(t, "det.mp4", VideoWriter::has_encoder("libx264") ? "libx264" : "mpeg4", 256, 192, 12, 1, 3);
  auto decode = [&](std::vector<uint8_t>& pixels, std::vector<int32_t>& mvs) {
    VideoReader r(path);
    Frame f;
    while (r.read(f)) {
      pixels.insert(pixels.end(), f.rgb.begin(), f.rgb.end());
      for (const auto& m : f.mvs) mvs.insert(mvs.end(), {m.w, m.h, m.src_x, m.src_y, m.dst_x, m.dst_y, m.source});
    }
  };
  std::vector<uint8_t> p1, p2;
  std::vector<int32_t> m1, m2;
  decode(p1, m1);
  decode(p2, m2);
  CHECK(p1.size() == 256u * 192 * 3 * 12);
  CHECK((p1 == p2));
  CHECK((m1 == m2));
}

TEST_CASE("read_letterboxed gives the letterbox geometry in one pass", "[video_io]") {
  TempDir t;
  const int w = 320, h = 240;
  const std::string path = write_moving_clip(t, "lb.mkv", "ffv1", w, h, 2, 1, 1);
  VideoReader a(path), b(path);
  Frame fa, fb;
  fx::LetterboxInfo info;
  REQUIRE(a.read_letterboxed(fa, 160, 160, &info));
  REQUIRE(b.read(fb));
  CHECK(fa.width == 160);
  CHECK(fa.height == 160);
  CHECK(info.new_w == 160);
  CHECK(info.new_h == 120);
  CHECK(info.pad_top == 20);
  for (int y : {0, 19, 140, 159})
    for (int x = 0; x < 160 * 3; ++x) REQUIRE(fa.rgb[y * 160 * 3 + x] == 114);
  std::vector<uint8_t> ref(160 * 160 * 3);
  fx::letterbox_rgb(fb.rgb.data(), w, h, 160, 160, ref.data());
  double diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) diff += std::abs(int(ref[i]) - int(fa.rgb[i]));
  CHECK(diff / ref.size() < 6.0);  // swscale's bilinear vs cv2 INTER_LINEAR: close, not identical
  CHECK(a.read_letterboxed(fa, 160, 160));
  CHECK_FALSE(a.read_letterboxed(fa, 160, 160));
}

TEST_CASE("numbered image sequences read as a video", "[video_io]") {
  TempDir t;
  std::vector<std::vector<uint8_t>> imgs(3);
  for (int i = 0; i < 3; ++i) {
    moving_frame(imgs[i], 24, 16, i, 2, 0);
    char name[32];
    std::snprintf(name, sizeof name, "img_%03d.png", i);
    fx::write_image(t.file(name), imgs[i].data(), 24, 16);
  }
  VideoReader r(t.file("img_%03d.png"));
  CHECK(r.is_image());
  CHECK(r.frame_count_estimate() == 3);
  Frame f;
  int n = 0;
  while (r.read(f)) {
    REQUIRE(n < 3);
    CHECK((f.rgb == imgs[n]));
    ++n;
  }
  CHECK(n == 3);
  {
    VideoReader one(t.file("img_001.png"));
    CHECK(one.frame_count_estimate() == 1);
  }
  CHECK(error_of([&] { VideoReader x(t.file("none_%03d.png")); }) ==
        "cannot open video '" + t.file("none_%03d.png") + "': No such file or directory");
}

TEST_CASE("open errors are one clear line", "[video_io][errors]") {
  TempDir t;
  CHECK(error_of([&] { VideoReader r(t.file("missing.mp4")); }) ==
        "cannot open video '" + t.file("missing.mp4") + "': No such file or directory");
  // A folder is read as its images (runtime/io/live_input.h); this one has none.
  CHECK(error_of([&] { VideoReader r(t.path()); }) ==
        "folder '" + t.path() + "' has no images (.png, .jpg, .jpeg, .bmp, .ppm, .pgm, .tif, .tiff, .webp)");

  write_file(t.file("empty.mp4"), "");
  CHECK(error_of([&] { VideoReader r(t.file("empty.mp4")); }) ==
        "'" + t.file("empty.mp4") + "' is not a video or image (empty file)");

  write_file(t.file("notes.txt"), "These are my notes.\nNothing to see here.\n");
  CHECK(error_of([&] { VideoReader r(t.file("notes.txt")); }) ==
        "'" + t.file("notes.txt") + "' is not a video or image (invalid data found when processing input)");

  // 8-bit mono WAV: a real media file without video
  std::string wav = "RIFF";
  auto u32 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  auto u16 = [](uint16_t v) { return std::string{char(v), char(v >> 8)}; };
  const std::string samples(8000, '\x80');
  wav += u32(36 + samples.size()) + "WAVEfmt " + u32(16) + u16(1) + u16(1) + u32(8000) + u32(8000) + u16(1) + u16(8) +
         "data" + u32(samples.size()) + samples;
  write_file(t.file("sound.wav"), wav);
  CHECK(error_of([&] { VideoReader r(t.file("sound.wav")); }) ==
        "video '" + t.file("sound.wav") + "' has no decodable video stream");
}

TEST_CASE("truncated and corrupt files: clear errors or a clean early end, never a crash", "[video_io][errors]") {
  TempDir t;
  // mp4 keeps its index (moov) at the end: the first 3 KB cannot be opened.
  const std::string mp4 = write_moving_clip(t, "full.mp4", "mpeg4", 160, 120, 10, 1, 1);
  const std::string bytes = read_file(mp4);
  REQUIRE(bytes.size() > 3000);
  write_file(t.file("cut.mp4"), bytes.substr(0, 3000));
  CHECK(error_of([&] { VideoReader r(t.file("cut.mp4")); }) ==
        "video '" + t.file("cut.mp4") + "' is truncated or corrupt (invalid data found when processing input)");

  // Matroska cut in the middle: opens, decodes what is there, ends cleanly.
  const std::string mkv = write_moving_clip(t, "full.mkv", "mpeg4", 160, 120, 20, 1, 1);
  const std::string mbytes = read_file(mkv);
  write_file(t.file("cut.mkv"), mbytes.substr(0, mbytes.size() * 6 / 10));
  int64_t n = -1;
  CHECK_NOTHROW(n = count_frames(t.file("cut.mkv")));
  CHECK(n > 0);
  CHECK(n < 20);

  // Cut right after the header: nothing decodes.
  write_file(t.file("head.mkv"), mbytes.substr(0, 600));
  const std::string e = error_of([&] { VideoReader r(t.file("head.mkv")); });
  CHECK(e.rfind("video '" + t.file("head.mkv") + "' is truncated or corrupt", 0) == 0);

  // Garbage written over the middle of the stream: frames are skipped or concealed, no crash.
  std::string damaged = mbytes;
  uint32_t s = 12345;
  for (size_t i = damaged.size() / 3; i < damaged.size() * 2 / 3; i += 7) {
    s = s * 1103515245u + 12345u;
    damaged[i] = static_cast<char>(s >> 16);
  }
  write_file(t.file("damaged.mkv"), damaged);
  CHECK_NOTHROW(n = count_frames(t.file("damaged.mkv")));
  CHECK(n > 0);
}

TEST_CASE("VideoWriter: default codec, read back, sizes and errors", "[video_io][writer]") {
  TempDir t;
  const std::string path = t.file("out.mp4");
  {
    VideoWriter wr(path, 96, 64, 30);
    CHECK((wr.codec_name() == "libx264" || wr.codec_name() == "mpeg4"));
    std::vector<uint8_t> rgb;
    for (int i = 0; i < 10; ++i) {
      moving_frame(rgb, 96, 64, i, 1, 0);
      wr.write(rgb.data());
    }
    wr.close();
    wr.close();  // idempotent
    CHECK_FALSE(wr.is_open());
    CHECK(error_of([&] { wr.write(rgb.data()); }) == "VideoWriter::write: the writer is not open");
  }
  int w = 0, h = 0;
  CHECK(count_frames(path, &w, &h) == 10);
  CHECK(w == 96);
  CHECK(h == 64);
  {
    VideoReader r(path);
    CHECK(r.fps() == Approx(30.0));
    CHECK((r.codec_name() == "h264" || r.codec_name() == "mpeg4"));
  }

  // Odd sizes lose the last column / row in 4:2:0.
  {
    VideoWriter wr(t.file("odd.mp4"), 97, 65, 30);
    std::vector<uint8_t> rgb(97 * 65 * 3, 77);
    for (int i = 0; i < 3; ++i) wr.write(rgb.data());
  }
  CHECK(count_frames(t.file("odd.mp4"), &w, &h) == 3);
  CHECK(w == 96);
  CHECK(h == 64);

  // A PNG through write_image is exact.
  std::vector<uint8_t> img;
  moving_frame(img, 33, 17, 0, 0, 0);
  fx::write_image(t.file("x.png"), img.data(), 33, 17);
  {
    VideoReader r(t.file("x.png"));
    Frame f;
    REQUIRE(r.read(f));
    CHECK((f.rgb == img));
  }

  CHECK(error_of([&] { VideoWriter wr("/nonexistent_dir_fx/x.mp4", 64, 64, 25); }) ==
        "cannot write video '/nonexistent_dir_fx/x.mp4': No such file or directory");
  CHECK(error_of([&] { VideoWriter wr(t.file("x.notacontainer"), 64, 64, 25); }) ==
        "cannot write video '" + t.file("x.notacontainer") +
            "': unknown container format (use a name ending in .mp4, .mkv, .avi, ...)");
  CHECK(error_of([&] { VideoWriter wr(t.file("y.mp4"), 0, 64, 25); }) ==
        "cannot write video '" + t.file("y.mp4") + "': invalid frame size 0x64");
  CHECK(VideoWriter::has_encoder("mpeg4"));
  CHECK_FALSE(VideoWriter::has_encoder("no_such_encoder"));
  {
    VideoWriterOptions o;
    o.codec = "no_such_encoder";
    CHECK(error_of([&] { VideoWriter wr(t.file("e.mkv"), 64, 64, 25, o); }) ==
          "cannot write video '" + t.file("e.mkv") +
              "': encoder 'no_such_encoder' is not available in this FFmpeg build");
  }
  {
    VideoWriter wr(t.file("z.mp4"), 64, 64, 25);
    Frame f;
    f.width = 32;
    f.height = 32;
    f.rgb.resize(32 * 32 * 3);
    CHECK(error_of([&] { wr.write(f); }) ==
          "cannot write video '" + t.file("z.mp4") + "': frame is 32x32, the video 64x64");
  }
}

// ---------------------------------------------------------------------------------------------------
// The shared sample clips (FX_SKIP when this checkout does not have them: CTest reports the
// test_video_io_assets entry as Skipped).

TEST_CASE("bedroom.mp4: 200 frames of 960x540 with codec MVs", "[video_io][assets]") {
  const std::string path = asset("video/bedroom.mp4");
  if (path.empty()) FX_SKIP("shared assets absent: skipping bedroom.mp4");
  auto fnv = [](uint64_t h, const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ull;
    return h;
  };
  auto mv_fnv = [&](const std::vector<fx::CodecMotionVector>& mvs) {  // field by field: no padding bytes
    uint64_t h = 1469598103934665603ull;
    for (const auto& m : mvs) {
      const int32_t v[10] = {m.w,     m.h,      m.src_x,    m.src_y,    m.dst_x,
                             m.dst_y, m.source, m.motion_x, m.motion_y, m.motion_scale};
      h = fnv(h, v, sizeof v);
    }
    return h;
  };
  std::vector<uint64_t> pixel_hash, mv_hash;
  {
    VideoReader r(path);
    CHECK(r.width() == 960);
    CHECK(r.height() == 540);
    CHECK(r.codec_name() == "h264");
    CHECK(r.fps() == Approx(30.0));
    CHECK(r.frame_count_estimate() == 200);
    Frame f;
    int n = 0, with_mvs = 0, past = 0, future = 0;
    while (r.read(f)) {
      CHECK(f.index == n);
      if (!f.mvs.empty()) ++with_mvs;
      for (const auto& m : f.mvs) (m.source < 0 ? past : future)++;
      pixel_hash.push_back(fnv(1469598103934665603ull, f.rgb.data(), f.rgb.size()));
      mv_hash.push_back(mv_fnv(f.mvs));
      ++n;
    }
    CHECK(n == 200);
    CHECK(with_mvs >= 190);  // every frame but the I frames
    CHECK(past > 0);
    CHECK(future > 0);  // B frames predict from the future too
    CHECK(f.time_s == Approx(199 / 30.0).margin(1e-3));
  }
  // Same vectors on a second run (frame-threaded decoding would make them vary), and the same pixels
  // with the faster MV-less frame-threaded decoding.
  {
    VideoReader r(path);
    Frame f;
    size_t n = 0, same_mvs = 0;
    while (r.read(f) && n < mv_hash.size())
      same_mvs += mv_fnv(f.mvs) == mv_hash[n++];
    CHECK(same_mvs == 200);
  }
  {
    fx::VideoReaderOptions o;
    o.motion_vectors = false;
    VideoReader r(path, o);
    Frame f;
    size_t n = 0, same_pixels = 0, mvs = 0;
    while (n < 60 && r.read(f)) {
      same_pixels += fnv(1469598103934665603ull, f.rgb.data(), f.rgb.size()) == pixel_hash[n++];
      mvs += f.mvs.size();
    }
    CHECK(same_pixels == 60);
    CHECK(mvs == 0);
  }
}

TEST_CASE("box.mp4: the undecodable first frame is skipped", "[video_io][assets]") {
  const std::string path = asset("video/box.mp4");
  if (path.empty()) FX_SKIP("shared assets absent: skipping box.mp4");
  VideoReader r(path);
  CHECK(r.width() == 640);
  CHECK(r.height() == 480);
  Frame f;
  REQUIRE(r.read(f));  // the broken IDR slice of the first packet is skipped, no error
  CHECK(f.index == 0);
  int n = 1;
  while (r.read(f)) ++n;
  CHECK(n == 455);
}

TEST_CASE("vtest.avi (msmpeg4v3) decodes", "[video_io][assets]") {
  const std::string path = asset("video/vtest.avi");
  if (path.empty()) FX_SKIP("shared assets absent: skipping vtest.avi");
  VideoReader r(path);
  CHECK(r.codec_name() == "msmpeg4v3");
  CHECK(r.width() == 768);
  CHECK(r.height() == 576);
  CHECK(r.fps() == Approx(10.0));
  Frame f;
  int n = 0, with_mvs = 0;
  while (n < 60 && r.read(f)) {
    if (!f.mvs.empty()) ++with_mvs;
    ++n;
  }
  CHECK(n == 60);
  CHECK(with_mvs > 30);
}

TEST_CASE("truncated real mp4 (first 3 KB of bedroom.mp4)", "[video_io][assets][errors]") {
  const std::string path = asset("video/bedroom.mp4");
  if (path.empty()) FX_SKIP("shared assets absent: skipping");
  TempDir t;
  std::string bytes = read_file(path).substr(0, 3 * 1024);
  write_file(t.file("bedroom_3k.mp4"), bytes);
  CHECK(error_of([&] { VideoReader r(t.file("bedroom_3k.mp4")); }) ==
        "video '" + t.file("bedroom_3k.mp4") + "' is truncated or corrupt (invalid data found when processing input)");
}
