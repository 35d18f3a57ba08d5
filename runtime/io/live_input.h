// The inputs VideoReader takes besides a file (runtime/io/video_reader.h): "-" (standard input), a
// folder or glob of images, a camera (V4L2 through FFmpeg's device layer) and network streams. These
// helpers classify a path and do the parts that are not FFmpeg calls (this file builds without FFmpeg).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fx {

// "rtsp://", "http://", ...: anything with a scheme.
bool is_url(const std::string& path);
// A URL whose protocol is a live stream by nature (RTSP, RTMP, RTP, UDP, SRT, TCP).
bool is_live_protocol(const std::string& path);
// "/dev/video0" or "v4l2:/dev/video0"; `device` receives the device path.
bool is_camera(const std::string& path, std::string* device);

// A folder (its image files) or a glob pattern ("frames/*.png", "shots/cam?_*.jpg"; its image files): the
// files in natural order ("f2" before "f10"). Empty when `path` is neither (an ordinary file or pattern).
// Throws fx::Error for a folder or glob without images.
std::vector<std::string> image_list(const std::string& path);

}  // namespace fx
