#include "runtime/session.h"

#include "runtime/io/video_reader.h"
#include "runtime/util/clock.h"

namespace fx {

StreamSession::StreamSession(std::shared_ptr<const Plan> plan, SessionOptions opt, std::shared_ptr<ThreadPool> pool)
    : StreamSession(make_device(std::move(plan), opt.backend, std::move(pool)), opt) {}

StreamSession::StreamSession(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool, SessionOptions opt,
                             std::shared_ptr<const OpRunner> runner)
    : StreamSession(std::make_shared<CpuDevice>(std::move(plan), opt.backend, std::move(pool), std::move(runner)), opt) {}

StreamSession::StreamSession(std::shared_ptr<const Device> device, SessionOptions opt) : pipe_(std::move(device), opt) {}

const FrameResult& StreamSession::process(const Frame& frame, FrameReport* report) {
  const SessionOptions& opt = pipe_.options();
  FrameReport rep;
  rep.frame = frames_;
  rep.mode = opt.mode;
  auto t0 = Clock::now();
  pipe_.letterbox(frame);
  rep.time.preprocess_ms = ms_since(t0);

  const int blocks = (plan().input_w() / opt.aligner.block) * (plan().input_h() / opt.aligner.block);
  static const std::vector<Label> kNone;
  if (!pipe_.sparse_mode() || !pipe_.initialised()) {
    auto t1 = Clock::now();
    rep.sparse = pipe_.execute(kNone, nullptr, pipe_.input().data(), -1);
    rep.time.execute_ms = ms_since(t1);
    rep.critical_blocks = blocks;
  } else {
    auto t1 = Clock::now();
    const PlanReport& pr = pipe_.plan_blocks(pipe_.hints(frame));
    rep.motion = pr.motion;
    rep.critical_blocks = pr.critical_blocks;
    rep.candidate_blocks = pr.candidate_blocks;
    rep.salient_skipped = pr.salient_skipped;
    rep.changed_blocks = pr.changed_blocks;
    rep.drift_refreshed = pr.drift_refreshed;
    rep.refresh_all = pr.refresh_all;
    rep.time.motion_ms = ms_since(t1);
    auto t2 = Clock::now();
    rep.bucket = pipe_.bucket(rep.motion);
    rep.time.classify_ms = ms_since(t2);
    auto t3 = Clock::now();
    rep.sparse = pipe_.execute(pipe_.labels(), &pipe_.motion(), pipe_.input().data(), rep.bucket);
    rep.time.execute_ms = ms_since(t3);
  }

  auto t4 = Clock::now();
  pipe_.decode();
  pipe_.finish(pipe_.geometry());
  rep.time.post_ms = ms_since(t4);
  if (opt.refresh_ms > 0) {
    auto t5 = Clock::now();
    pipe_.refresh(opt.refresh_ms);
    rep.time.refresh_ms = ms_since(t5);
  }
  ++frames_;
  if (report) *report = rep;
  return pipe_.result();
}

}  // namespace fx
