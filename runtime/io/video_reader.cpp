#include "runtime/io/video_reader.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "runtime/error.h"
#include "runtime/io/ffmpeg_util.h"
#include "runtime/io/live_input.h"
#include "runtime/io/media_header.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/motion_vector.h>
#include <libavutil/pixdesc.h>
}

namespace fx {

using namespace ffmpeg;

namespace {

// swscale flags for YUV -> RGB24. ACCURATE_RND + BITEXACT select swscale's exact C arithmetic, so the
// pixels do not depend on which SIMD extensions the CPU has; FULL_CHR_H_INT interpolates chroma
// horizontally (bilinear) instead of replicating it.
constexpr int kSwsFlags = SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT | SWS_FULL_CHR_H_INT;

// The deprecated "J" formats are the plain ones with full range.
AVPixelFormat dejpeg(AVPixelFormat f, bool* full_range) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = true; return AV_PIX_FMT_YUV411P;
    default: return f;
  }
}

// YUV -> RGB matrix from the stream's tag; untagged streams get BT.601 (FFmpeg's and OpenCV's default).
int sws_colorspace(AVColorSpace cs) {
  switch (cs) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_ITU601;
  }
}

bool is_yuv(AVPixelFormat f) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(f);
  return d && !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components >= 3;
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// Strong content-based recognition of the file's container (e.g. an mp4 'ftyp' box), used to tell a
// truncated/corrupt video from a file that is not a video at all.
std::string recognised_container(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  std::vector<uint8_t> buf(4096 + AVPROBE_PADDING_SIZE, 0);
  const size_t n = std::fread(buf.data(), 1, 4096, f);
  std::fclose(f);
  if (n == 0) return {};
  AVProbeData pd{};
  pd.filename = "";  // content only: extensions alone do not count
  pd.buf = buf.data();
  pd.buf_size = static_cast<int>(n);
  int score = 0;
  const AVInputFormat* fmt = av_probe_input_format3(&pd, 1, &score);
  if (!fmt || score < AVPROBE_SCORE_MAX / 2) return {};
  return fmt->name;
}

// The first bytes of a regular file against the sizes its header claims (runtime/io/media_header.h).
void check_file_header(const std::string& path, int64_t size) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return;  // avformat_open_input reports it
  std::vector<uint8_t> head(kMediaHeaderBytes);
  size_t n = std::fread(head.data(), 1, head.size(), f);
  std::fclose(f);
  check_media_header(head.data(), n, size, path);
}

constexpr const char* kPipedMp4 =
    "standard input is an MP4 whose index (moov) is not at its start, which a pipe cannot reach: remux it with "
    "'ffmpeg -i IN -c copy -movflags +faststart OUT.mp4' or pipe a stream format (MPEG-TS, Matroska, Y4M)";

struct AvioDeleter {
  void operator()(AVIOContext* c) const {
    av_freep(&c->buffer);
    avio_context_free(&c);
  }
};
using AvioPtr = std::unique_ptr<AVIOContext, AvioDeleter>;

// Makes FFmpeg's input devices (video4linux2) available: loads libavdevice at run time, so that only
// camera input needs it installed. Throws fx::Error naming the library when it cannot be loaded.
void load_input_devices() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    // libavdevice's major version follows libavformat's.
    const std::string lib = "libavdevice.so." + std::to_string(LIBAVFORMAT_VERSION_MAJOR);
    void* h = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL);
    auto reg = h ? reinterpret_cast<void (*)()>(::dlsym(h, "avdevice_register_all")) : nullptr;
    if (!reg) {
      failure = "camera input needs FFmpeg's " + lib + " (Debian: libavdevice" +
                std::to_string(LIBAVFORMAT_VERSION_MAJOR) + ")";
      return;
    }
    reg();
  });
  if (!failure.empty()) throw Error(failure);
}

struct SwsKey {
  int src_w = -1, src_h = -1, src_fmt = -1, dst_w = -1, dst_h = -1, cs = -1;
  bool full = false;
  bool operator==(const SwsKey& o) const {
    return src_w == o.src_w && src_h == o.src_h && src_fmt == o.src_fmt && dst_w == o.dst_w &&
           dst_h == o.dst_h && cs == o.cs && full == o.full;
  }
};

}  // namespace

struct VideoReader::Impl {
  std::string path;
  VideoReaderOptions opt;
  AvioPtr avio;           // standard input ("-"); outlives fmt (declared first: destroyed last)
  std::string pipe_head;  // its first bytes, for the header checks and messages
  FormatInputPtr fmt;
  CodecContextPtr dec;
  FramePtr frame;   // the decoded frame being handed out (or the prefetched first one)
  PacketPtr pkt;
  bool pkt_pending = false;  // pkt holds a packet the decoder refused with EAGAIN
  int stream_index = -1;
  AVRational time_base{1, 1};
  int64_t start_pts = 0;
  bool prefetched = false;
  bool draining = false;
  bool eof = false;
  int64_t next_index = 0;  // the smallest index the next frame may take
  int64_t missing = 0;     // source frames the timestamps skip (dropped or undecodable)
  int64_t decode_errors = 0;
  int64_t first_missing = -1;
  int width = 0, height = 0;
  double fps = 0.0;
  int64_t count_estimate = -1;
  std::string codec;
  bool image = false;
  SwsPtr sws;
  SwsKey sws_key;
  // A folder or glob of images: decoded one file at a time.
  std::vector<std::string> files;
  size_t next_file = 0;
  // Live sources (cameras, network streams): reconnected when they drop.
  bool live = false;
  int64_t reconnects = 0;
  double time_offset = 0, last_time = 0;

  void open(const std::string& p, const VideoReaderOptions& o);
  void open_stream();
  void open_list();
  bool read_list(Frame& f, int dst_w, int dst_h, LetterboxInfo* info);
  bool interrupted() const { return opt.interrupt && opt.interrupt(); }
  bool piped_mp4() const { return pipe_head.size() >= 8 && pipe_head.compare(4, 4, "ftyp") == 0; }
  bool next_frame();
  bool reconnect();
  static int interrupt_cb(void* opaque) { return static_cast<Impl*>(opaque)->interrupted() ? 1 : 0; }
  static int read_stdin(void* opaque, uint8_t* buf, int size);
  bool decode_next();
  void fill_meta(Frame& f);
  void convert(uint8_t* dst, int dst_stride, int dst_w, int dst_h);
};

void VideoReader::Impl::open(const std::string& p, const VideoReaderOptions& o) {
  init_logging();
  path = p;
  opt = o;
  files = image_list(p);  // a folder or glob of images
  if (!files.empty()) return open_list();
  open_stream();
}

int VideoReader::Impl::read_stdin(void* opaque, uint8_t* buf, int size) {
  Impl* d = static_cast<Impl*>(opaque);
  ssize_t n;
  do {
    n = ::read(STDIN_FILENO, buf, static_cast<size_t>(size));
  } while (n < 0 && errno == EINTR && !d->interrupted());
  if (n < 0) return errno == EINTR ? AVERROR_EXIT : AVERROR(errno);
  if (n == 0) return AVERROR_EOF;
  if (d->pipe_head.size() < kMediaHeaderBytes)
    d->pipe_head.append(reinterpret_cast<char*>(buf),
                        std::min<size_t>(static_cast<size_t>(n), kMediaHeaderBytes - d->pipe_head.size()));
  return static_cast<int>(n);
}

void VideoReader::Impl::open_stream() {
  const std::string& p = path;
  const bool url = is_url(p), from_stdin = p == "-";
  std::string device;
  const bool camera = is_camera(p, &device);
  const bool is_pattern = p.find('%') != std::string::npos;  // image sequence: "frames/%05d.png"
  struct stat fs {};
  if (camera) {
    if (::stat(device.c_str(), &fs) != 0)
      throw Error("cannot open camera " + quoted(device) + ": " + std::strerror(errno));
    load_input_devices();
  } else if (from_stdin) {
  } else if (!url && ::stat(p.c_str(), &fs) != 0) {
    if (!is_pattern) throw Error("cannot open video " + quoted(p) + ": " + std::strerror(errno));
  } else if (!url) {
    if (S_ISDIR(fs.st_mode)) throw Error("cannot open video " + quoted(p) + ": " + std::strerror(EISDIR));
    if (S_ISREG(fs.st_mode) && fs.st_size == 0)
      throw Error(quoted(p) + " is not a video or image (empty file)");
    if (S_ISREG(fs.st_mode)) check_file_header(p, fs.st_size);
  }
  if (url) {
    static std::once_flag net_once;
    std::call_once(net_once, [] { avformat_network_init(); });
  }

  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) throw std::bad_alloc();
  raw->interrupt_callback = {interrupt_cb, this};  // SIGINT ends a blocking read (run, edge)
  if (from_stdin) {
    constexpr int kBuf = 64 * 1024;
    auto* buf = static_cast<uint8_t*>(av_malloc(kBuf));
    AVIOContext* io = buf ? avio_alloc_context(buf, kBuf, 0, this, read_stdin, nullptr, nullptr) : nullptr;
    if (!io) {
      av_free(buf);
      avformat_free_context(raw);
      throw std::bad_alloc();
    }
    avio.reset(io);
    raw->pb = io;
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  }
  AVDictionary* dict = nullptr;
  // A network read that stalls for 10 s is a dropped stream (reconnected below), not a hang.
  if (url) av_dict_set(&dict, "rw_timeout", "10000000", 0);
  const AVInputFormat* ifmt = camera ? av_find_input_format("video4linux2") : nullptr;
  if (camera && !ifmt) {
    avformat_free_context(raw);
    throw Error("cannot open camera " + quoted(device) + ": this FFmpeg has no video4linux2 input");
  }
  int r = avformat_open_input(&raw, from_stdin ? "pipe:" : camera ? device.c_str() : p.c_str(), ifmt, &dict);
  av_dict_free(&dict);
  if (r < 0) {  // avformat_open_input frees the context on failure
    if (camera) throw Error("cannot open camera " + quoted(device) + ": " + error_string(r));
    if (from_stdin && piped_mp4()) throw Error(kPipedMp4);
    if (from_stdin && r == AVERROR_INVALIDDATA)
      throw Error("standard input is not a video or image (" + lower_first(error_string(r)) + ")");
    if (r == AVERROR_INVALIDDATA) {
      if (!url && !recognised_container(p).empty())
        throw Error("video " + quoted(p) + " is truncated or corrupt (" + lower_first(error_string(r)) + ")");
      throw Error(quoted(p) + " is not a video or image (" + lower_first(error_string(r)) + ")");
    }
    throw Error("cannot open video " + quoted(p) + ": " + error_string(r));
  }
  fmt.reset(raw);
  live = camera || (url && (is_live_protocol(p) || (fmt->pb && !(fmt->pb->seekable & AVIO_SEEKABLE_NORMAL))));
  if (from_stdin)
    check_media_header(reinterpret_cast<const uint8_t*>(pipe_head.data()), pipe_head.size(), -1, "standard input");
  // What the demuxer read from the header, before it reads (and allocates) any frame.
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
      check_frame_size(fmt->streams[i]->codecpar->width, fmt->streams[i]->codecpar->height, "video " + quoted(p));
  // find_stream_info decodes frames with decoders of its own: the same pixel limit for those.
  std::vector<AVDictionary*> probe_opts(fmt->nb_streams, nullptr);
  for (AVDictionary*& d : probe_opts) av_dict_set_int(&d, "max_pixels", kMaxFramePixels, 0);
  r = avformat_find_stream_info(fmt.get(), probe_opts.empty() ? nullptr : probe_opts.data());
  for (AVDictionary*& d : probe_opts) av_dict_free(&d);
  if (r < 0) throw Error("video " + quoted(p) + " is truncated or corrupt (" + lower_first(error_string(r)) + ")");

  const AVCodec* codec_ptr = nullptr;
  r = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec_ptr, 0);
  if (r == AVERROR_DECODER_NOT_FOUND) {
    // There is a video stream, but this FFmpeg cannot decode it.
    std::string name;
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
        name = avcodec_get_name(fmt->streams[i]->codecpar->codec_id);
        break;
      }
    throw Error("video " + quoted(p) + " has no decodable video stream (no decoder for '" + name + "')");
  }
  if (r < 0 || !codec_ptr) throw Error("video " + quoted(p) + " has no decodable video stream");
  stream_index = r;
  AVStream* st = fmt->streams[stream_index];
  // Only our stream's packets matter: the demuxer can drop the others early.
  for (unsigned i = 0; i < fmt->nb_streams; ++i)
    if (static_cast<int>(i) != stream_index) fmt->streams[i]->discard = AVDISCARD_ALL;

  dec.reset(avcodec_alloc_context3(codec_ptr));
  if (!dec) throw std::bad_alloc();
  r = avcodec_parameters_to_context(dec.get(), st->codecpar);
  if (r < 0)
    throw Error("video " + quoted(p) + " has no decodable video stream (" + lower_first(error_string(r)) + ")");
  dec->pkt_timebase = st->time_base;
  dec->max_pixels = kMaxFramePixels;  // frames whose size changes mid-stream are held to the same limit
  if (opt.motion_vectors) {
    dec->flags2 |= AV_CODEC_FLAG2_EXPORT_MVS;
    dec->export_side_data |= AV_CODEC_EXPORT_DATA_MVS;
  }
  // Threaded decoders give the same pictures as a single thread. The exported MVs, however, are read
  // from per-picture tables that frame threads may still be filling (h264's finalize_frame exports the
  // output picture's vectors from the thread that decodes a later picture): slice threads only then.
  dec->thread_count = std::max(0, opt.threads);
  dec->thread_type = opt.motion_vectors ? FF_THREAD_SLICE : (FF_THREAD_FRAME | FF_THREAD_SLICE);
  r = avcodec_open2(dec.get(), codec_ptr, nullptr);
  if (r < 0)
    throw Error("video " + quoted(p) + " has no decodable video stream (cannot open the " +
                std::string(codec_ptr->name) + " decoder: " + lower_first(error_string(r)) + ")");

  codec = avcodec_get_name(st->codecpar->codec_id);
  const std::string demuxer = fmt->iformat->name ? fmt->iformat->name : "";
  image = demuxer == "image2" || demuxer == "image2pipe" ||
          (demuxer.size() > 5 && demuxer.compare(demuxer.size() - 5, 5, "_pipe") == 0);
  time_base = st->time_base;
  start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
  const AVRational fr = av_guess_frame_rate(fmt.get(), st, nullptr);
  fps = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : 0.0;
  if (st->nb_frames > 0) {
    count_estimate = st->nb_frames;
  } else if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && fps > 0) {
    count_estimate = static_cast<int64_t>(std::llround(st->duration * av_q2d(st->time_base) * fps));
  } else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0 && fps > 0) {
    count_estimate = static_cast<int64_t>(std::llround(fmt->duration / static_cast<double>(AV_TIME_BASE) * fps));
  }

  if (image && count_estimate < 0 && !is_pattern) count_estimate = 1;

  frame = alloc_frame();
  pkt = alloc_packet();
  // Decode the first frame now: real frame size, and a clear error for files without any.
  if (!decode_next()) {
    if (interrupted()) throw Error("interrupted while opening " + quoted(p));
    // The MP4 demuxer reads through the media data to an index at the end, then cannot seek back.
    if (from_stdin && piped_mp4()) throw Error(kPipedMp4);
    throw Error("video " + quoted(p) + " is truncated or corrupt: no frame decodes");
  }
  prefetched = true;
  width = frame->width;
  height = frame->height;
}

void VideoReader::Impl::open_list() {
  image = true;
  fps = opt.image_fps;
  count_estimate = static_cast<int64_t>(files.size());
  std::string first_error;
  for (next_file = 0; next_file < files.size(); ++next_file) {
    try {
      VideoReaderOptions io;
      io.motion_vectors = false;
      VideoReader r(files[next_file], io);
      width = r.width();
      height = r.height();
      codec = r.codec_name();
      return;  // read_list() decodes it again, as every other file
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  throw Error("none of the " + std::to_string(files.size()) + " images of " + quoted(path) + " decodes (" +
              first_error + ")");
}

// The next decodable image of the list (undecodable ones are counted and leave a gap in the numbers).
bool VideoReader::Impl::read_list(Frame& f, int dst_w, int dst_h, LetterboxInfo* info) {
  while (next_file < files.size() && !interrupted()) {
    const int64_t index = static_cast<int64_t>(next_file);
    try {
      VideoReaderOptions io;
      io.motion_vectors = false;
      io.threads = opt.threads;
      VideoReader r(files[next_file++], io);
      if (!(dst_w > 0 ? r.read_letterboxed(f, dst_w, dst_h, info) : r.read(f))) throw Error("no frame");
    } catch (const Error&) {
      ++decode_errors;
      continue;
    }
    if (index > next_index) {
      if (first_missing < 0) first_missing = next_index;
      missing += index - next_index;
    }
    f.index = index;
    next_index = index + 1;
    f.time_s = static_cast<double>(index) / fps;
    f.mvs.clear();
    f.key_frame = true;
    f.pict_type = 'I';
    return true;
  }
  return false;
}

// The next frame; a live source that ends or fails is reopened (reconnect()).
bool VideoReader::Impl::next_frame() {
  if (decode_next()) return true;
  if (!live || opt.reconnect_s <= 0 || interrupted()) return false;
  return reconnect();
}

// Reopens a dropped live source, waiting 0.25 s and doubling up to 4 s between attempts, until a frame
// decodes or opt.reconnect_s pass. Frame times continue from the last frame.
bool VideoReader::Impl::reconnect() {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  double wait = 0.25;
  while (elapsed() < opt.reconnect_s) {
    for (double slept = 0; slept < wait && !interrupted(); slept += 0.05)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (interrupted()) return false;
    wait = std::min(wait * 2, 4.0);
    sws.reset();
    dec.reset();
    fmt.reset();
    avio.reset();
    pipe_head.clear();
    frame.reset();
    pkt.reset();
    pkt_pending = prefetched = draining = eof = false;
    try {
      open_stream();
    } catch (const Error&) {
      continue;  // still down
    }
    ++reconnects;
    prefetched = false;  // the frame open_stream decoded is the one to hand out now
    const int64_t ts = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
    const double first = ts != AV_NOPTS_VALUE ? static_cast<double>(ts - start_pts) * av_q2d(time_base) : 0.0;
    time_offset = last_time + (fps > 0 ? 1.0 / fps : 0.04) - first;
    return true;
  }
  return false;
}

// Decodes until a usable frame is in `frame`; false at the end of the stream. Packets the decoder
// rejects and frames it reports as errors are skipped.
bool VideoReader::Impl::decode_next() {
  if (eof) return false;
  av_frame_unref(frame.get());
  int errors_in_a_row = 0;
  for (;;) {
    int r = avcodec_receive_frame(dec.get(), frame.get());
    if (r == 0) {
      if (frame->width > 0 && frame->height > 0 && frame->format >= 0 && frame->data[0]) return true;
      av_frame_unref(frame.get());
      continue;
    }
    if (r == AVERROR_EOF || (r != AVERROR(EAGAIN) && ++errors_in_a_row > 1000)) {
      eof = true;
      return false;
    }
    if (r != AVERROR(EAGAIN)) {  // a frame that failed to decode: skip it (the timestamps show the gap)
      ++decode_errors;
      continue;
    }
    errors_in_a_row = 0;
    if (draining) {  // cannot happen with a conforming decoder; do not spin
      eof = true;
      return false;
    }
    // The decoder wants input.
    if (!pkt_pending) {
      int tries = 0;
      for (;;) {
        r = av_read_frame(fmt.get(), pkt.get());
        if (r == AVERROR(EAGAIN) && ++tries < 1000) continue;
        if (r < 0) break;  // end of file, or a read error that ends the usable stream
        if (pkt->stream_index == stream_index) break;
        av_packet_unref(pkt.get());
      }
      if (r < 0) {
        avcodec_send_packet(dec.get(), nullptr);  // enter draining mode: flush delayed frames
        draining = true;
        continue;
      }
    }
    r = avcodec_send_packet(dec.get(), pkt.get());
    if (r == AVERROR(EAGAIN)) {
      pkt_pending = true;  // resend after receiving
      continue;
    }
    if (r < 0 && r != AVERROR_EOF) ++decode_errors;
    pkt_pending = false;
    av_packet_unref(pkt.get());  // sent, or rejected as undecodable: either way it is done
  }
}

void VideoReader::Impl::fill_meta(Frame& f) {
  const int64_t ts = frame->best_effort_timestamp != AV_NOPTS_VALUE ? frame->best_effort_timestamp : frame->pts;
  // The source's frame number, from the timestamp: frames lost to damage leave a gap instead of
  // renumbering everything after them. Never backwards (variable frame rates, odd timestamps).
  int64_t index = next_index;
  if (ts != AV_NOPTS_VALUE) {
    f.time_s = static_cast<double>(ts - start_pts) * av_q2d(time_base) + time_offset;
    if (fps > 0) index = std::max(next_index, static_cast<int64_t>(std::llround(f.time_s * fps)));
  }
  if (index > next_index) {
    if (first_missing < 0) first_missing = next_index;
    missing += index - next_index;
  }
  f.index = index;
  next_index = index + 1;
  if (ts == AV_NOPTS_VALUE) f.time_s = fps > 0 ? static_cast<double>(f.index) / fps : 0.0;
  last_time = f.time_s;
  f.key_frame = frame->key_frame != 0;
  f.pict_type = av_get_picture_type_char(frame->pict_type);
  f.mvs.clear();
  if (const AVFrameSideData* sd = av_frame_get_side_data(frame.get(), AV_FRAME_DATA_MOTION_VECTORS)) {
    const auto* mv = reinterpret_cast<const AVMotionVector*>(sd->data);
    const size_t n = sd->size / sizeof(AVMotionVector);
    f.mvs.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      CodecMotionVector m;
      m.w = mv[i].w;
      m.h = mv[i].h;
      m.src_x = mv[i].src_x;
      m.src_y = mv[i].src_y;
      m.dst_x = mv[i].dst_x;
      m.dst_y = mv[i].dst_y;
      m.source = static_cast<int8_t>(mv[i].source < 0 ? -1 : 1);
      m.motion_x = mv[i].motion_x;
      m.motion_y = mv[i].motion_y;
      m.motion_scale = mv[i].motion_scale;
      f.mvs.push_back(m);
    }
  }
}

// Converts `frame` into RGB24 at dst (dst_w x dst_h, scaling when the size differs).
void VideoReader::Impl::convert(uint8_t* dst, int dst_stride, int dst_w, int dst_h) {
  bool full = frame->color_range == AVCOL_RANGE_JPEG;
  const AVPixelFormat src_fmt = dejpeg(static_cast<AVPixelFormat>(frame->format), &full);
  SwsKey key;
  key.src_w = frame->width;
  key.src_h = frame->height;
  key.src_fmt = src_fmt;
  key.dst_w = dst_w;
  key.dst_h = dst_h;
  key.cs = sws_colorspace(frame->colorspace);
  key.full = full;
  if (!sws || !(key == sws_key)) {
    sws.reset(sws_getContext(key.src_w, key.src_h, src_fmt, dst_w, dst_h, AV_PIX_FMT_RGB24, kSwsFlags,
                             nullptr, nullptr, nullptr));
    if (!sws)
      throw Error("video " + quoted(path) + ": cannot convert pixel format '" +
                  std::string(av_get_pix_fmt_name(src_fmt) ? av_get_pix_fmt_name(src_fmt) : "?") + "' to RGB");
    if (is_yuv(src_fmt)) {
      const int* coefs = sws_getCoefficients(key.cs);
      sws_setColorspaceDetails(sws.get(), coefs, full ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                               1 << 16, 1 << 16);
    }
    sws_key = key;
  }
  uint8_t* dst_planes[4] = {dst, nullptr, nullptr, nullptr};
  int dst_strides[4] = {dst_stride, 0, 0, 0};
  sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, dst_planes, dst_strides);
}

VideoReader::VideoReader(const std::string& path, const VideoReaderOptions& options) : impl_(new Impl) {
  impl_->open(path, options);
}
VideoReader::~VideoReader() = default;
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;

bool VideoReader::read(Frame& f) {
  Impl& d = *impl_;
  if (!d.files.empty()) return d.read_list(f, 0, 0, nullptr);
  if (d.prefetched) {
    d.prefetched = false;
  } else if (!d.next_frame()) {
    return false;
  }
  f.width = d.frame->width;
  f.height = d.frame->height;
  f.rgb.resize(static_cast<size_t>(f.width) * f.height * 3);
  d.convert(f.rgb.data(), f.width * 3, f.width, f.height);
  d.fill_meta(f);
  return true;
}

bool VideoReader::read_letterboxed(Frame& f, int dst_w, int dst_h, LetterboxInfo* info) {
  Impl& d = *impl_;
  if (!d.files.empty()) return d.read_list(f, dst_w, dst_h, info);
  if (d.prefetched) {
    d.prefetched = false;
  } else if (!d.next_frame()) {
    return false;
  }
  const LetterboxInfo li = letterbox_info(d.frame->width, d.frame->height, dst_w, dst_h);
  if (info) *info = li;
  f.width = dst_w;
  f.height = dst_h;
  const size_t stride = static_cast<size_t>(dst_w) * 3;
  f.rgb.resize(stride * dst_h);
  for (int y = 0; y < dst_h; ++y) {
    uint8_t* row = f.rgb.data() + y * stride;
    if (y < li.pad_top || y >= li.pad_top + li.new_h) {
      std::memset(row, 114, stride);
    } else {
      std::memset(row, 114, static_cast<size_t>(li.pad_left) * 3);
      const size_t right = static_cast<size_t>(li.pad_left + li.new_w) * 3;
      std::memset(row + right, 114, stride - right);
    }
  }
  d.convert(f.rgb.data() + static_cast<size_t>(li.pad_top) * stride + static_cast<size_t>(li.pad_left) * 3,
            static_cast<int>(stride), li.new_w, li.new_h);
  d.fill_meta(f);
  return true;
}

int64_t VideoReader::missing_frames() const { return impl_->missing; }
int64_t VideoReader::first_missing_frame() const { return impl_->first_missing; }
int64_t VideoReader::decode_errors() const { return impl_->decode_errors; }
int64_t VideoReader::reconnects() const { return impl_->reconnects; }
bool VideoReader::is_live() const { return impl_->live; }
int VideoReader::width() const { return impl_->width; }
int VideoReader::height() const { return impl_->height; }
double VideoReader::fps() const { return impl_->fps; }
int64_t VideoReader::frame_count_estimate() const { return impl_->count_estimate; }
std::string VideoReader::codec_name() const { return impl_->codec; }
bool VideoReader::is_image() const { return impl_->image; }
const std::string& VideoReader::path() const { return impl_->path; }

}  // namespace fx
