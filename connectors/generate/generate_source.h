// generate source: synthetic changes of a fixed row shape, as fast as the sinks take them
// (or at a set rate). For benchmarks of sinks without a database in the way, and for
// trying a sink out. Positions are deterministic, so a rerun replays the same stream.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/lsn.h"
#include "core/registry.h"
#include "core/source.h"

namespace sluice::generate {

struct GenerateOptions {
  uint64_t changes = 1000000;        // then Run() returns Ok; 0 means never stop
  uint64_t keys = 0;                 // distinct keys; 0 means every change a new key
  uint64_t payload_bytes = 100;      // length of the `payload` column
  uint64_t transaction_changes = 1;  // changes per transaction (one commit LSN)
  uint64_t delete_every = 0;         // every Nth change deletes its key; 0 means never
  uint64_t rate = 0;                 // changes per second; 0 means as fast as possible
  Lsn start_lsn = Lsn(0x1000000);    // commit LSN of the first transaction
};

// One row of the generated table: the columns every change carries.
//   id int8 (key), seq int8 (change number), name text, price numeric,
//   payload text (payload_bytes long), updated_at timestamptz (the commit time)
Row GeneratedRow(uint64_t id, uint64_t seq, int64_t commit_time_us, uint64_t payload_bytes);

// Run() on the pipeline's source thread; Confirm() from sink threads.
class GenerateSource : public Source {
 public:
  GenerateSource(SourceContext ctx, GenerateOptions options);

  Status Check() override { return Status::Ok(); }
  Status Run(BatchEmitter& out, const std::atomic<bool>& stop) override;
  void Confirm(const Checkpoint& checkpoint) override;

 private:
  // The change numbered `n` (from 0) in transaction `txn` at `seq` inside it.
  Change MakeChange(uint64_t n, uint64_t txn, uint64_t seq, int64_t commit_time_us);
  // Waits until change `n` is due under `rate`. False if `stop` was raised meanwhile.
  bool Pace(uint64_t n, const std::atomic<bool>& stop);

  SourceContext ctx_;
  GenerateOptions options_;
  std::vector<std::shared_ptr<const TableId>> tables_;
  Gauge& confirmed_lsn_;
  std::chrono::steady_clock::time_point started_;
};

void RegisterGenerateSource(Registry& registry);

}  // namespace sluice::generate
