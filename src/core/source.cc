#include "core/source.h"

#include "core/scan.h"

namespace sluice {

const char* SourcePhaseName(SourcePhase phase) {
  switch (phase) {
    case SourcePhase::kStarting:
      return "starting";
    case SourcePhase::kSnapshot:
      return "snapshot";
    case SourcePhase::kStreaming:
      return "streaming";
    case SourcePhase::kReconnecting:
      return "reconnecting";
    case SourcePhase::kStopped:
      return "stopped";
  }
  return "unknown";
}

Result<std::unique_ptr<SourceScan>> Source::OpenScan() {
  return Status::NotFound("this source cannot be read for verification");
}

}  // namespace sluice
