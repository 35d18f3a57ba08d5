// fluxshard edge PLAN.fsp --input CLIP --server ADDR:PORT: the edge side of edge-cloud inference
// (net/edge_client.h). One JSON line per frame (as `run` writes them, plus where the frame was computed,
// the bytes sent and the latency) and a summary line.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "net/address.h"
#include "net/edge_client.h"
#include "net/link.h"
#include "net/token.h"
#include "runtime/error.h"
#include "runtime/io/video_reader.h"
#include "runtime/util/clock.h"
#include "runtime/util/json.h"
#include "runtime/util/percentile.h"

namespace fx::cli {

namespace {

std::string hex64(uint64_t v) {
  char b[20];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

// --server HOST:PORT, checked (a malformed value is a command-line error) and resolved to a numeric
// address (an unknown host is an error of its own, not a refused session). Empty with --policy local.
std::string server_option(const Args& args) {
  if (!args.has("--server")) return "";
  const std::string s = args.get("--server");
  std::string host;
  int port = 0;
  try {
    net::parse_host_port(s, host, port);
  } catch (const Error& e) {
    throw UsageError("fluxshard edge: --server: " + std::string(e.what()));
  }
  if (!net::valid_host(host))
    throw UsageError("fluxshard edge: --server: '" + host + "' is not a host name or address");
  if (port == 0) throw UsageError("fluxshard edge: --server: port 0 in '" + s + "' (1 to 65535)");
  return net::join_host_port(net::resolve_host(host), port);
}

}  // namespace

int cmd_edge(const Args& args) {
  args.max_positionals(1);
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  if (!args.has("--input")) throw UsageError("fluxshard edge: missing --input CLIP");
  net::EdgeOptions o;
  o.policy = net::parse_policy(args.get_choice("--policy", "fluxshard", {"fluxshard", "local", "offload"}));
  if (o.policy != net::Policy::Local && !args.has("--server"))
    throw UsageError("fluxshard edge: missing --server ADDR:PORT (needed unless --policy local)");
  o.server = o.policy == net::Policy::Local ? "" : server_option(args);
  o.codec = net::parse_codec(args.get_choice("--codec", "raw", {"raw", "lossless", "lz4", "jpeg"}));
  o.jpeg_quality = args.get_int("--jpeg-quality", 90, 1, 100);
  if (args.has("--token-file")) o.token = net::read_token_file(args.get("--token-file"));
  o.trace = args.get("--trace", "");
  o.rtt_ms = args.get_double("--rtt-ms", -1, 0, 10000);
  o.threads = thread_option(args);
  o.session = session_options(args, "fluxshard", {"exact", "fluxshard"});
  o.result_timeout_ms = args.get_double("--result-timeout-ms", 1000, 1, 600000);
  o.background = !args.has("--no-background");
  o.refresh = !args.has("--no-refresh");
  o.name = args.get("--name", "");
  const int max_frames = args.get_int("--max-frames", 0, 0, 1 << 30);
  double pace_fps = args.get_double("--fps", 0, 0, 1000);

  auto plan = Plan::load_file(plan_path);
  check_block_option(args, *plan, o.session.aligner.block);
  VideoReader reader(args.get("--input"), input_options(args));
  const double clip_fps = reader.fps() > 0 ? reader.fps() : 30.0;
  if (args.has("--realtime")) pace_fps = clip_fps;
  const double stream_fps = pace_fps > 0 ? pace_fps : clip_fps;
  o.frame_interval_ms = 1000.0 / stream_fps;
  auto json = json_output(args);
  net::EdgeClient edge(plan, o);
  const auto& names = plan->class_names();
  const char* mode = mode_name(o.session.mode);

  Frame frame;
  net::EdgeFrameReport rep;
  std::vector<double> lat;
  int64_t frames = 0;
  auto wall0 = Clock::now();
  for (;;) {
    if (max_frames > 0 && frames >= max_frames) break;
    if (!reader.read(frame)) break;
    if (pace_fps > 0) {
      auto due = wall0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(frames / pace_fps));
      std::this_thread::sleep_until(due);
    }
    const FrameResult& r = edge.process(frame, rep);
    ++frames;
    lat.push_back(rep.latency_ms);
    if (json.is_open()) {
      JsonWriter w;
      w.begin_object().field("frame", frame.index).field("time_s", frame.time_s).field("mode", mode);
      w.field("policy", net::policy_name(o.policy)).field("on", rep.on_cloud ? "cloud" : "edge");
      write_detections_json(w, r, names);
      w.field("latency_ms", rep.latency_ms).field("bytes_up", static_cast<int64_t>(rep.bytes_up));
      w.field("payload_bytes", static_cast<int64_t>(rep.payload_bytes));
      w.field("background_bytes", static_cast<int64_t>(rep.background_bytes))
          .field("background_blocks", rep.background_blocks);
      w.field("ecb", rep.ecb)
          .field("ccb", rep.ccb)
          .field("t_edge_ms", rep.t_edge_ms)
          .field("t_cloud_ms", rep.t_cloud_ms);
      w.field("plan_ms", rep.plan_ms).field("exec_ms", rep.exec_ms).field("wait_ms", rep.wait_ms);
      w.field("server_ms", rep.server_ms).field("refresh_ops", rep.refresh_ops);
      w.field("fallback", rep.fallback).field("resync", rep.resync).field("reference_mismatch", rep.reference_mismatch);
      w.field("bw_mbps", rep.bw_mbps).field("rtt_ms", rep.rtt_ms).field("output_hash", hex64(rep.output_hash));
      w.end_object();
      json << w.str() << '\n';
    }
  }
  int loop_rc = edge.close();
  if (frames == 0) throw Error("'" + args.get("--input") + "' has no decodable frames");
  const net::EdgeTotals& t = edge.totals();
  double n = static_cast<double>(frames), mean = 0;
  for (double v : lat) mean += v;
  mean /= n;
  double wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
  double stream_s = n / stream_fps;
  double mbps = static_cast<double>(t.bytes_up) / 1e6 / stream_s;
  if (json.is_open()) {
    JsonWriter w;
    w.begin_object().field("summary", true).field("frames", frames).field("mode", mode);
    w.field("policy", net::policy_name(o.policy)).field("codec", net::codec_name(o.codec));
    w.field("trace", o.trace.empty() ? "unlimited" : o.trace).field("threads", edge.threads());
    w.field("mean_ms", mean).field("median_ms", median(lat)).field("p95_ms", percentile(lat, 0.95));
    w.field("bytes_up", static_cast<int64_t>(t.bytes_up)).field("payload_bytes", static_cast<int64_t>(t.payload_bytes));
    w.field("background_bytes", static_cast<int64_t>(t.background_bytes));
    w.field("mb_per_s", mbps).field("stream_fps", stream_fps);
    w.field("frames_on_edge", t.on_edge).field("frames_on_cloud", t.on_cloud);
    w.field("cloud_share", static_cast<double>(t.on_cloud) / n).field("fallbacks", t.fallbacks);
    w.field("resyncs", t.resyncs).field("handshakes", t.handshakes).field("reference_mismatches", t.mismatches);
    w.field("refresh_ops", t.refresh_ops).field("wall_s", wall_s).field("loop_close", loop_rc);
    w.field("missing_frames", reader.missing_frames()).field("decode_errors", reader.decode_errors());
    w.end_object();
    json << w.str() << '\n';
  }
  json.close();
  if (!args.has("--quiet"))
    std::fprintf(json.to_stdout() ? stderr : stdout,
                 "%lld frames of %s, %s policy, %s mode, %s codec: %.2f ms/frame (p95 %.2f), %.3f MB/s up "
                 "(%llu bytes at %.1f fps), %lld on the edge, %lld on the cloud, %lld fallbacks, %lld resyncs\n",
                 static_cast<long long>(frames), args.get("--input").c_str(), net::policy_name(o.policy), mode,
                 net::codec_name(o.codec), mean, percentile(lat, 0.95), mbps,
                 static_cast<unsigned long long>(t.bytes_up), stream_fps, static_cast<long long>(t.on_edge),
                 static_cast<long long>(t.on_cloud), static_cast<long long>(t.fallbacks),
                 static_cast<long long>(t.resyncs));
  warn_input_damage(reader, args.get("--input"));
  return 0;
}

}  // namespace fx::cli
