// CheckpointCoordinator: decides what a source may confirm. It tracks batches in the order
// the source emitted them; once every sink has made a prefix of them durable, it hands the
// newest checkpoint of that prefix back to the source. Never past a batch some sink has
// not made durable, never backwards.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "core/change.h"

namespace sluice {

// Owned by a pipeline. Thread-safe: Track() from the source thread, Durable() from sink
// threads. `confirm` is called under the coordinator's lock, in emission order.
class CheckpointCoordinator {
 public:
  CheckpointCoordinator(size_t num_sinks, std::function<void(const Checkpoint&)> confirm);

  // Registers a batch before any sink sees it. Ids must increase. `wait_position`: what a
  // sink that made this batch durable has made durable for /wait (every commit ending at or
  // below it); empty when the batch says nothing about that.
  void Track(uint64_t batch_id, const Checkpoint& checkpoint, Lsn wait_position = Lsn());
  // Sink `sink` has made every batch with id <= `batch_id` durable. Lower ids than already
  // reported are ignored (durability is monotonic).
  void Durable(size_t sink, uint64_t batch_id);

  // Highest batch id durable in every sink.
  uint64_t durable_batch() const;
  // Batches tracked but not yet durable everywhere.
  size_t in_flight() const;
  // The last checkpoint handed to the source (empty if none yet).
  Checkpoint confirmed() const;
  // Every commit at or below `position` is in the batches tracked so far (or is not the
  // pipeline's): a sink that makes the newest of them durable has made `position` durable.
  void HandedOn(Lsn position);
  // The highest wait position among the batches sink `sink` has made durable, or that
  // HandedOn() gave it.
  Lsn sink_position(size_t sink) const;

 private:
  struct Entry {
    uint64_t id;
    Checkpoint checkpoint;
    Lsn wait_position;
  };
  mutable std::mutex mu_;
  std::function<void(const Checkpoint&)> confirm_;
  std::deque<Entry> pending_;
  std::vector<uint64_t> durable_;  // per sink
  std::vector<Lsn> positions_;     // per sink: see sink_position()
  uint64_t durable_all_ = 0;
  Checkpoint confirmed_;
};

}  // namespace sluice
