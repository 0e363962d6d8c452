#include "runtime/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "util/change_json.h"
#include "util/json_writer.h"
#include "util/redact.h"

namespace sluice {

namespace {

// Lifecycle messages start "pipeline NAME: ..." or "pipeline NAME sink SINK: ..."; JSON lines
// carry those names as fields of their own so collectors can filter on them.
void AddNames(std::string_view text, JsonWriter& w) {
  constexpr std::string_view kPipeline = "pipeline ";
  constexpr std::string_view kSink = " sink ";
  if (text.substr(0, kPipeline.size()) != kPipeline) return;
  size_t colon = text.find(": ");
  if (colon == std::string_view::npos) return;
  std::string_view names = text.substr(kPipeline.size(), colon - kPipeline.size());
  size_t sink = names.find(kSink);
  std::string_view pipeline = names.substr(0, sink);
  if (pipeline.empty() || pipeline.find(' ') != std::string_view::npos) return;
  w.Key("pipeline");
  w.String(pipeline);
  if (sink == std::string_view::npos) return;
  std::string_view sink_name = names.substr(sink + kSink.size());
  if (sink_name.empty() || sink_name.find(' ') != std::string_view::npos) return;
  w.Key("sink");
  w.String(sink_name);
}

// Formats each record itself so that the message is redacted (and, for JSON, escaped).
class StderrSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit StderrSink(bool json) : json_(json) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text = Redact(std::string_view(msg.payload.data(), msg.payload.size()));
    auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    std::string line;
    auto level = spdlog::level::to_string_view(msg.level);
    if (json_) {
      JsonWriter w(&line);
      w.BeginObject();
      w.Key("time");
      w.String(FormatTimestampUs(us));
      w.Key("level");
      w.String(std::string_view(level.data(), level.size()));
      AddNames(text, w);
      w.Key("msg");
      w.String(text);
      w.EndObject();
    } else {
      line = FormatTimestampUs(us) + " " + std::string(level.data(), level.size()) + " " + text;
    }
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  bool json_;
};

}  // namespace

Status SetupLogging(const std::string& format, const std::string& level) {
  if (format != "text" && format != "json" && format != "auto") {
    return Status::InvalidArgument("log format must be text, json or auto, got '" + format + "'");
  }
  bool json = format == "json" || (format == "auto" && isatty(STDERR_FILENO) == 0);
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level '" + level + "'");
  }
  auto logger = std::make_shared<spdlog::logger>("sluice", std::make_shared<StderrSink>(json));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace sluice
