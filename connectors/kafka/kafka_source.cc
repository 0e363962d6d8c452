#include "connectors/kafka/kafka_source.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <thread>

namespace sluice::kafka {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

std::string RegexEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::strchr(".^$|()[]{}*+?\\", c)) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  for (int i = 0; list && i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  }
  return out;
}

std::string PartitionsText(const rd_kafka_topic_partition_list_t* list) {
  std::string out;
  for (int i = 0; list && i < list->cnt && i < 32; ++i) {
    out += (i ? ", " : "") + std::string(list->elems[i].topic) + "[" +
           std::to_string(list->elems[i].partition) + "]";
  }
  if (list && list->cnt > 32) out += ", ...";
  return out;
}

std::optional<std::string_view> Header(rd_kafka_headers_t* headers, const char* name) {
  const void* value = nullptr;
  size_t size = 0;
  if (!headers || rd_kafka_header_get_last(headers, name, &value, &size) != 0 || !value) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(value), size);
}

}  // namespace

Result<std::vector<std::string>> SubscriptionFor(const std::vector<TableSelector>& tables,
                                                 const std::vector<std::string>& topics) {
  bool all = !tables.empty();
  for (const auto& t : tables) all = all && t.schema == "*" && t.table == "*";
  if (!topics.empty()) {
    if (!all) {
      return Status::InvalidArgument(
          "the kafka source has a `topics` option, so the pipe must read SOURCE.* (name the "
          "topics in one place: `topics`, or the pipe as SOURCE.TOPIC)");
    }
    return topics;
  }
  if (all || tables.empty()) {
    return Status::InvalidArgument(
        "which topics? Name them in the pipe (`log.shop.orders` reads topic shop.orders, "
        "`log.shop.*` every topic starting with shop.) or in the source's `topics` option");
  }
  std::vector<std::string> out;
  for (const auto& t : tables) {
    if (t.schema != "*" && t.table != "*") {
      out.push_back(t.schema + "." + t.table);
    } else {
      out.push_back("^" + (t.schema == "*" ? std::string(".+") : RegexEscape(t.schema)) + "\\." +
                    (t.table == "*" ? std::string(".+") : RegexEscape(t.table)) + "$");
    }
  }
  return out;
}

KafkaSource::KafkaSource(SourceContext ctx, KafkaSourceOptions options,
                         std::vector<std::string> subscription)
    : ctx_(std::move(ctx)),
      options_(std::move(options)),
      subscription_(std::move(subscription)),
      parser_(options_.format),
      consumed_metric_(ctx_.metrics.GetCounter("sluice_kafka_source_messages_total",
                                               "Messages read from Kafka")),
      bad_metric_(ctx_.metrics.GetCounter("sluice_kafka_source_bad_messages_total",
                                          "Messages that were not change envelopes")),
      commits_metric_(ctx_.metrics.GetCounter("sluice_kafka_source_commits_total",
                                              "Offset commits the brokers accepted")),
      commit_errors_metric_(ctx_.metrics.GetCounter("sluice_kafka_source_commit_errors_total",
                                                    "Offset commits that failed")),
      rebalances_metric_(ctx_.metrics.GetCounter("sluice_kafka_source_rebalances_total",
                                                 "Partition assignments and revocations")),
      assigned_metric_(
          ctx_.metrics.GetGauge("sluice_kafka_source_partitions", "Partitions this member reads")) {
  hooks_.what = "pipeline " + ctx_.pipeline + " source " + ctx_.source;
  hooks_.metrics = ctx_.metrics;
  hooks_.owner = this;
}

KafkaSource::~KafkaSource() { Close(); }

Status KafkaSource::Check() {
  auto conf = BuildConf(options_.common, {{"group.id", options_.group}}, &hooks_);
  if (!conf.ok()) return conf.status();
  auto rk = NewHandle(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!rk.ok()) return rk.status();
  auto md = FetchMetadata(rk->get(), nullptr, options_.connect_timeout);
  if (!md.ok()) return md.status().WithContext("brokers " + options_.common.brokers);
  return Status::Ok();
}

Status KafkaSource::EnsureConsumer() {
  if (consumer_) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"group.id", options_.group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      // Where a partition with no committed offset starts is decided on assignment (see
      // Rebalance); an offset out of range (messages deleted by retention before this group
      // read them) is an error, never a silent jump.
      {"auto.offset.reset", "error"},
  };
  auto conf = BuildConf(options_.common, defaults, &hooks_);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(conf->get(), &KafkaSource::OnRebalance);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &KafkaSource::OnCommit);
  auto rk = NewHandle(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!rk.ok()) return rk.status();
  consumer_ = std::move(rk).value();
  rd_kafka_poll_set_consumer(consumer_.get());
  PartitionListPtr topics(
      rd_kafka_topic_partition_list_new(static_cast<int>(subscription_.size())));
  for (const auto& t : subscription_) {
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get());
  if (err) return ToStatus(err, "subscribe to " + PartitionsText(topics.get()));
  return Status::Ok();
}

void KafkaSource::OnRebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaSource*>(static_cast<ClientHooks*>(opaque)->owner)->Rebalance(err, partitions);
}

void KafkaSource::OnCommit(rd_kafka_t*, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* self = static_cast<KafkaSource*>(static_cast<ClientHooks*>(opaque)->owner);
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing was to commit
  OffsetMap done;
  for (int i = 0; offsets && i < offsets->cnt; ++i) {
    const auto& e = offsets->elems[i];
    if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR && err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      done[{e.topic, e.partition}] = e.offset;
    } else {
      self->commit_errors_metric_.Add();
      spdlog::warn("{}: committing offset {} of {}[{}] failed (it is committed again later): {}",
                   self->hooks_.what, e.offset, e.topic, e.partition,
                   rd_kafka_err2str(e.err ? e.err : err));
    }
  }
  if (!done.empty()) {
    self->commits_metric_.Add();
    self->tracker_.Committed(done);
  }
}

void KafkaSource::Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  rebalances_metric_.Add();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    StartingOffsets(partitions);
    tracker_.Assign(ToVector(partitions));
    if (cooperative) {
      ErrorPtr e(rd_kafka_incremental_assign(rk, partitions));
    } else {
      rd_kafka_assign(rk, partitions);
    }
    size_t owned = tracker_.owned().size();
    assigned_metric_.Set(static_cast<double>(owned));
    ctx_.status->Set(SourcePhase::kStreaming, std::to_string(owned) + " partitions");
    spdlog::info("{}: assigned {}", hooks_.what, PartitionsText(partitions));
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    Revoke(partitions, cooperative);
    return;
  }
  spdlog::warn("{}: rebalance error: {}", hooks_.what, rd_kafka_err2str(err));
  tracker_.RevokeAll();
  rd_kafka_assign(rk, nullptr);
  assigned_metric_.Set(0);
}

void KafkaSource::StartingOffsets(rd_kafka_topic_partition_list_t* partitions) {
  // The committed offsets, so that only partitions this group never committed start at
  // `start`. If the coordinator cannot say, start those at the beginning: a replay is
  // harmless (sinks skip what they hold), a skip is not.
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int attempt = 0; attempt < 3; ++attempt) {
    err = rd_kafka_committed(consumer_.get(), partitions,
                             static_cast<int>(options_.connect_timeout.count()));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
  }
  bool latest = options_.start == "latest" && err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn(
        "{}: cannot read the group's committed offsets ({}); partitions without one "
        "start at the beginning",
        hooks_.what, rd_kafka_err2str(err));
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    auto& e = partitions->elems[i];
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || e.offset < 0) {
      e.offset = latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    }
  }
}

void KafkaSource::Revoke(rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
  rd_kafka_t* rk = consumer_.get();
  bool lost = rd_kafka_assignment_lost(rk);
  size_t in_flight = 0;
  if (!lost) {
    // Flush: hand on what we hold, wait until the sinks made it durable, commit it.
    if (out_ && !closing_ && (!batch_.changes.empty() || !batch_offsets_.empty())) {
      (void)EmitBatch();  // false only when stopping; the wait below then ends at once
    }
    auto deadline = Clock::now() + options_.revoke_timeout;
    while (!closing_ && !tracker_.AllConfirmed() && Clock::now() < deadline && !(stop_ && *stop_)) {
      ctx_.status->Beat();  // waiting for the sinks is normal
      std::this_thread::sleep_for(milliseconds(10));
    }
    in_flight = tracker_.last_recorded() - tracker_.confirmed();
    Commit(true);
  }
  // Batches still in flight for these partitions will reach the sinks anyway; their offsets
  // are forgotten here so they never commit for the next owner, who reads them again from
  // the committed offset (the sinks skip positions they already hold).
  tracker_.Revoke(ToVector(partitions));
  if (cooperative) {
    ErrorPtr e(rd_kafka_incremental_unassign(rk, partitions));
  } else {
    rd_kafka_assign(rk, nullptr);
  }
  assigned_metric_.Set(static_cast<double>(tracker_.owned().size()));
  if (lost) {
    spdlog::warn("{}: lost {} (session timed out?); nothing committed for them", hooks_.what,
                 PartitionsText(partitions));
  } else if (in_flight > 0) {
    spdlog::warn(
        "{}: released {} with {} batches not yet durable after {} ms; the next owner "
        "reads them again (harmless: sinks skip positions they hold)",
        hooks_.what, PartitionsText(partitions), in_flight, options_.revoke_timeout.count());
  } else {
    spdlog::info("{}: released {} (everything read was durable and committed)", hooks_.what,
                 PartitionsText(partitions));
  }
}

void KafkaSource::Commit(bool sync) {
  if (!consumer_) return;
  last_commit_ = Clock::now();
  OffsetMap offsets = tracker_.Committable();
  if (offsets.empty()) return;
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [tp, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), sync ? 0 : 1);
  if (!sync) return;  // OnCommit reports the outcome
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    commit_errors_metric_.Add();
    spdlog::warn("{}: committing {} failed: {}", hooks_.what, PartitionsText(list.get()),
                 rd_kafka_err2str(err));
    return;
  }
  OffsetMap done;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.err == RD_KAFKA_RESP_ERR_NO_ERROR) done[{e.topic, e.partition}] = e.offset;
  }
  commits_metric_.Add();
  tracker_.Committed(done);
}

void KafkaSource::MaybeCommit() {
  if (Clock::now() - last_commit_ >= options_.commit_interval) Commit(false);
}

bool KafkaSource::EmitBatch() {
  uint64_t token = ++next_token_;
  tracker_.Record(token, batch_offsets_);
  batch_.checkpoint = Checkpoint{max_lsn_, token};
  Batch batch = std::move(batch_);
  batch_ = Batch{};
  batch_offsets_.clear();
  return out_->Emit(std::move(batch), [this] { MaybeCommit(); });
}

Status KafkaSource::HandleError(const rd_kafka_message_t* msg) {
  std::string fatal = FatalError(consumer_.get());
  if (!fatal.empty()) return Status::Internal("the Kafka consumer hit a fatal error: " + fatal);
  std::string where = msg->rkt ? std::string(" (topic ") + rd_kafka_topic_name(msg->rkt) + ")" : "";
  if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
    std::string detail = rd_kafka_message_errstr(msg);
    return Status::DataLoss(
        "partition " + std::to_string(msg->partition) + where +
        ": the next offset to read is gone (deleted by retention before this group read it?): " +
        detail + ". The changes in between are lost to this pipeline; rebuild its sinks " +
        "from a fresh snapshot, or reset the group's offsets to go on");
  }
  Status s = ToStatus(msg->err, "consume" + where);
  if (s.code() == StatusCode::kInvalidArgument) return s;  // authorization, bad config
  spdlog::warn("{}: {}", hooks_.what, s.message());
  return Status::Ok();
}

Status KafkaSource::HandleMessage(const rd_kafka_message_t* msg) {
  consumed_metric_.Add();
  MessageMeta meta;
  meta.header_position = [msg] {
    rd_kafka_headers_t* headers = nullptr;
    (void)rd_kafka_message_headers(msg, &headers);
    return PositionFromHeaders(Header(headers, kHeaderLsn), Header(headers, kHeaderSeq));
  };
  std::optional<std::string_view> key, value;
  if (msg->key) key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload) value = std::string_view(static_cast<const char*>(msg->payload), msg->len);
  size_t before = batch_.changes.size();
  Status s = parser_.Parse(key, value, meta, &batch_.changes);
  const char* topic = rd_kafka_topic_name(msg->rkt);
  if (!s.ok()) {
    batch_.changes.resize(before);
    bad_metric_.Add();
    std::string where = std::string("topic ") + topic + "[" + std::to_string(msg->partition) +
                        "] at offset " + std::to_string(msg->offset);
    if (!options_.skip_bad_messages) {
      return Status::InvalidArgument(where + ": " + s.message() +
                                     " (with bad_messages: skip such messages are logged and "
                                     "skipped)");
    }
    spdlog::error("{}: skipping {}: {}", hooks_.what, where, s.message());
  }
  for (size_t i = before; i < batch_.changes.size(); ++i) {
    const Change& c = batch_.changes[i];
    batch_.bytes += c.ApproxBytes();
    if (c.position.lsn > max_lsn_) max_lsn_ = c.position.lsn;
  }
  batch_offsets_[{topic, msg->partition}] = msg->offset + 1;
  return Status::Ok();
}

Status KafkaSource::Run(BatchEmitter& out, const std::atomic<bool>& stop) {
  ctx_.status->Set(SourcePhase::kStarting, "joining group " + options_.group);
  SLUICE_RETURN_IF_ERROR(EnsureConsumer());
  out_ = &out;
  stop_ = &stop;
  last_commit_ = Clock::now();
  spdlog::info("{}: consuming {} in group {}", hooks_.what,
               subscription_.size() == 1 ? subscription_[0]
                                         : std::to_string(subscription_.size()) + " topics",
               options_.group);
  Status result = Status::Cancelled("stopped");
  while (!stop) {
    ctx_.status->Beat();  // polling, even idle, is progress for /healthz
    MaybeCommit();
    bool pending = !batch_.changes.empty() || !batch_offsets_.empty();
    MessagePtr msg(rd_kafka_consumer_poll(consumer_.get(), pending ? 0 : 100));
    if (!msg) {
      if (pending && !EmitBatch()) break;
      continue;
    }
    Status s = msg->err ? HandleError(msg.get()) : HandleMessage(msg.get());
    if (!s.ok()) {
      result = s;
      break;
    }
    if (batch_.changes.size() >= ctx_.batch_max_changes || batch_.bytes >= ctx_.batch_max_bytes) {
      if (!EmitBatch()) break;
    }
  }
  out_ = nullptr;
  stop_ = nullptr;
  return result;
}

void KafkaSource::Confirm(const Checkpoint& checkpoint) { tracker_.Confirm(checkpoint.token); }

void KafkaSource::Shutdown() {
  Commit(true);
  Close();
}

void KafkaSource::Close() {
  if (!consumer_) return;
  // Leaving the group revokes (the callback commits only what is durable) and lets the
  // others take the partitions at once, without waiting for our session to time out.
  closing_ = true;
  rd_kafka_consumer_close(consumer_.get());
  consumer_.reset();
}

namespace {

std::vector<OptionSpec> SourceOptions() {
  std::vector<OptionSpec> specs = {
      {"group", OptionType::kString, "", false,
       "Consumer group (group.id); default sluice.<pipeline>. Daemons in one group split the "
       "partitions"},
      {"topics", OptionType::kList, "", false,
       "Topics to read (names, or regexes starting with ^); the pipe then reads SOURCE.*"},
      {"format",
       OptionType::kEnum,
       "auto",
       false,
       "Envelope format: auto (per message), sluice, debezium",
       {"auto", "sluice", "debezium"}},
      {"start",
       OptionType::kEnum,
       "earliest",
       false,
       "Where a group with no committed offsets starts (auto.offset.reset)",
       {"earliest", "latest"}},
      {"commit_interval", OptionType::kDuration, "1s", false,
       "How often durable offsets are committed"},
      {"revoke_timeout", OptionType::kDuration, "30s", false,
       "On a rebalance, how long to wait for what was read to become durable before letting "
       "the partitions go"},
      {"bad_messages",
       OptionType::kEnum,
       "stop",
       false,
       "A message that is not a change envelope: stop the pipeline, or log and skip it",
       {"stop", "skip"}},
      {"connect_timeout", OptionType::kDuration, "10s", false,
       "How long `sluice check --connect` waits for the brokers"},
  };
  for (auto& s : CommonOptionSpecs()) specs.push_back(std::move(s));
  return specs;
}

Result<std::unique_ptr<Source>> CreateKafkaSource(const SourceContext& ctx) {
  const Options& o = ctx.options;
  KafkaSourceOptions opts;
  auto common = ParseCommonOptions(o);
  if (!common.ok()) return common.status();
  opts.common = std::move(common).value();
  opts.group =
      o.Has("group") && !o.String("group").empty() ? o.String("group") : "sluice." + ctx.pipeline;
  if (o.Has("topics")) opts.topics = o.List("topics");
  const std::string& format = o.String("format");
  opts.format = format == "sluice"     ? InputFormat::kSluice
                : format == "debezium" ? InputFormat::kDebezium
                                       : InputFormat::kAuto;
  opts.start = o.String("start");
  opts.commit_interval = o.Duration("commit_interval");
  opts.revoke_timeout = o.Duration("revoke_timeout");
  opts.connect_timeout = o.Duration("connect_timeout");
  opts.skip_bad_messages = o.String("bad_messages") == "skip";
  auto subscription = SubscriptionFor(ctx.tables, opts.topics);
  if (!subscription.ok()) return subscription.status();
  return std::unique_ptr<Source>(
      std::make_unique<KafkaSource>(ctx, std::move(opts), std::move(subscription).value()));
}

}  // namespace

void RegisterKafkaSource(Registry& registry) {
  SourcePlugin p;
  p.type = "kafka";
  p.description =
      "Reads changes the kafka sink wrote, as a member of a consumer group; commits offsets "
      "only once every sink made them durable";
  p.options = SourceOptions();
  p.create = CreateKafkaSource;
  registry.AddSource(std::move(p));
}

}  // namespace sluice::kafka
