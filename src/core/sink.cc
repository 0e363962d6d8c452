#include "core/sink.h"

#include "core/scan.h"

namespace sluice {

Result<std::unique_ptr<SinkReader>> Sink::Reader() {
  return Status::NotFound("this sink cannot be read back for verification");
}

}  // namespace sluice
