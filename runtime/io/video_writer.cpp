#include "runtime/io/video_writer.h"

#include <cmath>
#include <cstring>

#include "runtime/error.h"
#include "runtime/io/ffmpeg_util.h"
#include "runtime/io/video_reader.h"

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace fx {

using namespace ffmpeg;

namespace {

struct OutputDeleter {
  void operator()(AVFormatContext* oc) const {
    if (!oc) return;
    if (oc->pb && !(oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&oc->pb);
    avformat_free_context(oc);
  }
};
using OutputPtr = std::unique_ptr<AVFormatContext, OutputDeleter>;

bool encoder_supports(const AVCodec* c, AVPixelFormat f) {
  if (!c->pix_fmts) return true;
  for (const AVPixelFormat* p = c->pix_fmts; *p != AV_PIX_FMT_NONE; ++p)
    if (*p == f) return true;
  return false;
}

bool is_image_muxer(const AVOutputFormat* f) {
  const std::string n = f->name ? f->name : "";
  return n == "image2" || n == "image2pipe";
}

}  // namespace

struct VideoWriter::Impl {
  std::string path;
  std::string kind = "video";  // "image" for the image2 muxer
  OutputPtr oc;
  CodecContextPtr enc;
  FramePtr frame;
  PacketPtr pkt;
  SwsPtr sws;
  AVStream* stream = nullptr;
  int width = 0, height = 0;  // what write() takes
  int64_t next_pts = 0;
  bool header_written = false;
  bool open = false;

  [[noreturn]] void fail(const std::string& what) {
    reset();
    throw Error("cannot write " + kind + " '" + path + "': " + what);
  }
  void reset() {
    sws.reset();
    frame.reset();
    pkt.reset();
    enc.reset();
    oc.reset();
    stream = nullptr;
    header_written = false;
    open = false;
  }
  void drain();
};

void VideoWriter::Impl::drain() {
  for (;;) {
    int r = avcodec_receive_packet(enc.get(), pkt.get());
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) fail("encoding failed (" + lower_first(error_string(r)) + ")");
    av_packet_rescale_ts(pkt.get(), enc->time_base, stream->time_base);
    pkt->stream_index = stream->index;
    r = av_interleaved_write_frame(oc.get(), pkt.get());  // takes ownership of the packet's data
    if (r < 0) fail(lower_first(error_string(r)));
  }
}

VideoWriter::VideoWriter() : impl_(new Impl) {}
VideoWriter::VideoWriter(const std::string& path, int width, int height, double fps, const VideoWriterOptions& opt)
    : impl_(new Impl) {
  open(path, width, height, fps, opt);
}
VideoWriter::~VideoWriter() {
  if (!impl_) return;
  try {
    close();
  } catch (...) {
  }
}
VideoWriter::VideoWriter(VideoWriter&&) noexcept = default;
VideoWriter& VideoWriter::operator=(VideoWriter&& o) noexcept {
  if (this != &o) {
    if (impl_) {
      try {
        close();
      } catch (...) {
      }
    }
    impl_ = std::move(o.impl_);
  }
  return *this;
}

void VideoWriter::open(const std::string& path, int width, int height, double fps, const VideoWriterOptions& opt) {
  init_logging();
  if (!impl_) impl_.reset(new Impl);
  close();
  Impl& d = *impl_;
  d.path = path;
  d.kind = "video";
  if (width < 2 || height < 2 || width > 16384 || height > 16384)
    d.fail("invalid frame size " + std::to_string(width) + "x" + std::to_string(height));
  if (!(fps > 0) || fps > 1000) d.fail("invalid frame rate " + std::to_string(fps));

  AVFormatContext* raw = nullptr;
  int r = avformat_alloc_output_context2(&raw, nullptr, nullptr, path.c_str());
  if (r < 0 || !raw) d.fail("unknown container format (use a name ending in .mp4, .mkv, .avi, ...)");
  d.oc.reset(raw);
  const AVOutputFormat* ofmt = d.oc->oformat;
  if (is_image_muxer(ofmt)) d.kind = "image";

  const AVCodec* codec = nullptr;
  if (!opt.codec.empty()) {
    codec = avcodec_find_encoder_by_name(opt.codec.c_str());
    if (!codec) d.fail("encoder '" + opt.codec + "' is not available in this FFmpeg build");
    if (avformat_query_codec(ofmt, codec->id, FF_COMPLIANCE_NORMAL) == 0)  // < 0: the muxer cannot tell
      d.fail("the " + std::string(ofmt->name) + " container cannot hold " + opt.codec);
  } else if (is_image_muxer(ofmt)) {
    // Still image(s): the codec follows the extension (.png -> png, .jpg -> mjpeg, ...).
    const AVCodecID id = av_guess_codec(ofmt, nullptr, path.c_str(), nullptr, AVMEDIA_TYPE_VIDEO);
    codec = id != AV_CODEC_ID_NONE ? avcodec_find_encoder(id) : nullptr;
    if (!codec) d.fail("no image encoder for this file name");
  } else {
    const AVCodec* x264 = avcodec_find_encoder_by_name("libx264");
    if (x264 && avformat_query_codec(ofmt, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1) codec = x264;
    if (!codec) {
      const AVCodec* m4 = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
      if (m4 && avformat_query_codec(ofmt, AV_CODEC_ID_MPEG4, FF_COMPLIANCE_NORMAL) == 1) codec = m4;
    }
    if (!codec) {  // e.g. .gif, .webm: the container's own default
      const AVCodecID id = av_guess_codec(ofmt, nullptr, path.c_str(), nullptr, AVMEDIA_TYPE_VIDEO);
      codec = id != AV_CODEC_ID_NONE ? avcodec_find_encoder(id) : nullptr;
    }
    if (!codec) d.fail("no video encoder for the " + std::string(ofmt->name) + " container");
  }

  // Pixel format: RGB where the encoder stores it (png, ffv1: exact round trip), else 4:2:0 YUV (full
  // range for JPEG, limited range otherwise).
  AVPixelFormat pix = AV_PIX_FMT_YUV420P;
  if (codec->pix_fmts && (codec->id == AV_CODEC_ID_FFV1 || encoder_supports(codec, AV_PIX_FMT_RGB24))) {
    for (AVPixelFormat f : {AV_PIX_FMT_RGB24, AV_PIX_FMT_GBRP, AV_PIX_FMT_BGR0, AV_PIX_FMT_RGB0, AV_PIX_FMT_0RGB,
                            AV_PIX_FMT_0BGR, AV_PIX_FMT_BGR24})
      if (encoder_supports(codec, f)) {
        pix = f;
        break;
      }
  }
  const bool rgb_out = pix != AV_PIX_FMT_YUV420P;
  const bool full_range = codec->id == AV_CODEC_ID_MJPEG;
  if (!encoder_supports(codec, pix))
    d.fail("encoder '" + std::string(codec->name) + "' does not take " + av_get_pix_fmt_name(pix));
  const int enc_w = rgb_out ? width : (width & ~1);
  const int enc_h = rgb_out ? height : (height & ~1);

  d.stream = avformat_new_stream(d.oc.get(), nullptr);
  if (!d.stream) throw std::bad_alloc();
  d.enc.reset(avcodec_alloc_context3(codec));
  if (!d.enc) throw std::bad_alloc();
  AVCodecContext* e = d.enc.get();
  const AVRational rate = av_d2q(fps, 1001000);
  e->width = enc_w;
  e->height = enc_h;
  e->pix_fmt = pix;
  e->time_base = av_inv_q(rate);
  e->framerate = rate;
  e->sample_aspect_ratio = AVRational{1, 1};
  e->thread_count = 0;
  if (opt.gop > 0) e->gop_size = opt.gop;
  if (opt.max_b_frames >= 0) e->max_b_frames = opt.max_b_frames;
  if (!rgb_out) {
    e->colorspace = AVCOL_SPC_SMPTE170M;
    e->color_range = full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  }
  if (codec->id == AV_CODEC_ID_H264 || codec->id == AV_CODEC_ID_HEVC) {
    av_opt_set(e->priv_data, "preset", opt.preset.c_str(), 0);
    av_opt_set(e->priv_data, "crf", std::to_string(opt.crf).c_str(), 0);
  } else if (!rgb_out) {
    e->flags |= AV_CODEC_FLAG_QSCALE;
    e->global_quality = FF_QP2LAMBDA * opt.qscale;
  }
  if (ofmt->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  r = avcodec_open2(e, codec, nullptr);
  if (r < 0) d.fail("cannot open the " + std::string(codec->name) + " encoder (" + lower_first(error_string(r)) + ")");
  r = avcodec_parameters_from_context(d.stream->codecpar, e);
  if (r < 0) d.fail(lower_first(error_string(r)));
  d.stream->time_base = e->time_base;
  d.stream->avg_frame_rate = rate;
  d.stream->r_frame_rate = rate;

  if (!(ofmt->flags & AVFMT_NOFILE)) {
    r = avio_open(&d.oc->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (r < 0) d.fail(error_string(r));
  }
  // One image file rewritten per frame rather than a numbered sequence, unless the name has a pattern.
  if (is_image_muxer(ofmt) && path.find('%') == std::string::npos && d.oc->priv_data)
    av_opt_set(d.oc->priv_data, "update", "1", 0);
  r = avformat_write_header(d.oc.get(), nullptr);
  if (r < 0) d.fail("cannot write the header (" + lower_first(error_string(r)) + ")");
  d.header_written = true;

  d.frame = alloc_frame();
  d.frame->format = pix;
  d.frame->width = enc_w;
  d.frame->height = enc_h;
  r = av_frame_get_buffer(d.frame.get(), 0);
  if (r < 0) throw std::bad_alloc();
  d.pkt = alloc_packet();
  d.sws.reset(sws_getContext(enc_w, enc_h, AV_PIX_FMT_RGB24, enc_w, enc_h, pix,
                             SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT | SWS_FULL_CHR_H_INP, nullptr,
                             nullptr, nullptr));
  if (!d.sws) d.fail("cannot convert RGB to " + std::string(av_get_pix_fmt_name(pix)));
  if (!rgb_out) {
    const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
    sws_setColorspaceDetails(d.sws.get(), bt601, 1, bt601, full_range ? 1 : 0, 0, 1 << 16, 1 << 16);
  }
  d.width = width;
  d.height = height;
  d.next_pts = 0;
  d.open = true;
}

void VideoWriter::write(const uint8_t* rgb, int stride) {
  if (!impl_ || !impl_->open) throw Error("VideoWriter::write: the writer is not open");
  Impl& d = *impl_;
  if (stride <= 0) stride = d.width * 3;
  int r = av_frame_make_writable(d.frame.get());
  if (r < 0) throw std::bad_alloc();
  const uint8_t* src[4] = {rgb, nullptr, nullptr, nullptr};
  const int src_stride[4] = {stride, 0, 0, 0};
  sws_scale(d.sws.get(), src, src_stride, 0, d.frame->height, d.frame->data, d.frame->linesize);
  d.frame->pts = d.next_pts++;
  r = avcodec_send_frame(d.enc.get(), d.frame.get());
  if (r < 0) d.fail("encoding failed (" + lower_first(error_string(r)) + ")");
  d.drain();
}

void VideoWriter::write(const Frame& f) {
  if (!impl_ || !impl_->open) throw Error("VideoWriter::write: the writer is not open");
  if (f.width != impl_->width || f.height != impl_->height ||
      f.rgb.size() < static_cast<size_t>(f.width) * f.height * 3)
    throw Error("cannot write " + impl_->kind + " '" + impl_->path + "': frame is " + std::to_string(f.width) + "x" +
                std::to_string(f.height) + ", the video " + std::to_string(impl_->width) + "x" +
                std::to_string(impl_->height));
  write(f.rgb.data(), f.width * 3);
}

void VideoWriter::close() {
  if (!impl_ || !impl_->open) return;
  Impl& d = *impl_;
  int r = avcodec_send_frame(d.enc.get(), nullptr);
  if (r < 0 && r != AVERROR_EOF) d.fail("encoding failed (" + lower_first(error_string(r)) + ")");
  d.drain();
  r = av_write_trailer(d.oc.get());
  if (r < 0) d.fail("cannot finish the file (" + lower_first(error_string(r)) + ")");
  if (d.oc->pb && !(d.oc->oformat->flags & AVFMT_NOFILE)) {
    r = avio_closep(&d.oc->pb);
    if (r < 0) d.fail(error_string(r));
  }
  d.reset();
}

bool VideoWriter::is_open() const { return impl_ && impl_->open; }
int64_t VideoWriter::frames_written() const { return impl_ ? impl_->next_pts : 0; }
bool VideoWriter::has_encoder(const std::string& name) { return avcodec_find_encoder_by_name(name.c_str()) != nullptr; }

std::string VideoWriter::codec_name() const {
  return impl_ && impl_->enc && impl_->enc->codec ? impl_->enc->codec->name : "";
}

void write_image(const std::string& path, const uint8_t* rgb, int width, int height, int stride) {
  VideoWriter w(path, width, height, 1.0);
  w.write(rgb, stride);
  w.close();
}

}  // namespace fx
