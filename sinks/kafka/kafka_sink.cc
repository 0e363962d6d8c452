#include "sinks/kafka/kafka_sink.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace sluice::kafka {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The key columns back from their JSON (for a dead letter's change).
Row KeyRow(const std::string& json) {
  Row row;
  auto doc = nlohmann::ordered_json::parse(json, nullptr, false);
  if (!doc.is_object()) return row;
  for (const auto& [name, v] : doc.items()) {
    Value value;
    if (v.is_string()) {
      value = Value::Of(ValueKind::kString, v.get<std::string>());
    } else if (v.is_number_integer()) {
      value = Value::Of(ValueKind::kInt, v.dump());
    } else if (!v.is_null()) {
      value = Value::Of(v.is_number() ? ValueKind::kFloat : ValueKind::kJson, v.dump());
    }
    row.push_back({name, std::move(value)});
  }
  return row;
}

}  // namespace

KafkaSink::KafkaSink(SinkContext ctx, KafkaSinkOptions options)
    : ctx_(std::move(ctx)),
      options_(std::move(options)),
      produced_metric_(ctx_.metrics.GetCounter("sluice_kafka_sink_produced_total",
                                               "Messages handed to the Kafka producer")),
      delivered_metric_(ctx_.metrics.GetCounter("sluice_kafka_sink_delivered_total",
                                                "Messages the brokers acknowledged (acks=all)")),
      resent_metric_(
          ctx_.metrics.GetCounter("sluice_kafka_sink_resent_total",
                                  "Messages produced again after a retriable delivery failure")),
      dead_letter_metric_(ctx_.metrics.GetCounter(
          "sluice_kafka_sink_dead_letters_total",
          "Changes the brokers refused for good (too large, invalid), sent to dead letters")),
      in_flight_metric_(ctx_.metrics.GetGauge("sluice_kafka_sink_in_flight",
                                              "Messages waiting for their delivery report")),
      durable_metric_(ctx_.metrics.GetGauge(
          "sluice_kafka_sink_durable_lsn",
          "Commit LSN below which every message has a successful delivery report")) {
  hooks_.what = "pipeline " + ctx_.pipeline + " sink " + ctx_.sink;
  hooks_.metrics = ctx_.metrics;
  hooks_.owner = this;
}

KafkaSink::~KafkaSink() {
  // Nothing still in flight was reported durable: drop it. Topic handles go first; the
  // delivery callback must not run while the members it touches are being destroyed.
  topics_.clear();
  if (producer_) {
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    producer_.reset();
  }
}

void KafkaSink::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  static_cast<KafkaSink*>(static_cast<ClientHooks*>(opaque)->owner)->Delivered(msg);
}

void KafkaSink::Delivered(const rd_kafka_message_t* msg) {
  auto seq = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(msg->_private));
  if (seq < first_seq_ || seq - first_seq_ >= in_flight_.size()) return;  // purged on shutdown
  InFlight& f = in_flight_[seq - first_seq_];
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    f.done = true;
    ++stats_.delivered;
    delivered_metric_.Add();
    return;
  }
  std::string topic = rd_kafka_topic_name(msg->rkt);
  Status s = ToStatus(msg->err,
                      "delivery to topic " + topic + " [" + std::to_string(msg->partition) + "]");
  std::string key =
      msg->key ? std::string(static_cast<const char*>(msg->key), msg->key_len) : std::string();
  if (s.code() == StatusCode::kRejected) {
    failures_.push_back({seq, std::move(key), s.message()});
    return;
  }
  if (s.code() != StatusCode::kUnavailable) {
    if (stop_.ok()) stop_ = s;
  }
  Resend r;
  r.seq = seq;
  r.topic = msg->rkt;
  r.partition = msg->partition;
  r.has_key = msg->key != nullptr;
  r.key = std::move(key);
  r.tombstone = msg->payload == nullptr;
  if (msg->payload) r.value.assign(static_cast<const char*>(msg->payload), msg->len);
  if (resends_.empty() || stats_.resent % 1000 == 0) {
    spdlog::warn("{}: {}; producing it again", hooks_.what, s.message());
  }
  resends_.push_back(std::move(r));
}

Status KafkaSink::EnsureProducer() {
  if (producer_) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"compression.codec", options_.compression},
      {"linger.ms", std::to_string(options_.linger.count())},
      // Java's partitioner: a key lands where Java producers would put it too.
      {"partitioner", "murmur2_random"},
  };
  auto conf = BuildConf(options_.common, defaults, &hooks_);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaSink::OnDelivery);
  auto rk = NewHandle(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!rk.ok()) return rk.status();
  producer_ = std::move(rk).value();
  return Status::Ok();
}

Status KafkaSink::Open() {
  SLUICE_RETURN_IF_ERROR(EnsureProducer());
  auto md = FetchMetadata(producer_.get(), nullptr, options_.connect_timeout);
  if (!md.ok()) return md.status().WithContext("brokers " + options_.common.brokers);
  return Status::Ok();
}

Status KafkaSink::Check() {
  auto conf = BuildConf(options_.common, {}, &hooks_);
  if (!conf.ok()) return conf.status();
  auto rk = NewHandle(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!rk.ok()) return rk.status();
  auto md = FetchMetadata(rk->get(), nullptr, options_.connect_timeout);
  if (!md.ok()) return md.status().WithContext("brokers " + options_.common.brokers);
  return Status::Ok();
}

Result<KafkaSink::TopicEntry*> KafkaSink::TopicFor(const std::shared_ptr<const TableId>& table) {
  auto it = topics_.find(table.get());
  if (it != topics_.end()) return &it->second;
  TopicEntry entry;
  entry.hold = table;
  entry.name = options_.topic.Render(*table);
  entry.topic.reset(rd_kafka_topic_new(producer_.get(), entry.name.c_str(), nullptr));
  if (!entry.topic) {
    return ToStatus(rd_kafka_last_error(), "topic " + entry.name + " of " + table->ToString());
  }
  return &topics_.emplace(table.get(), std::move(entry)).first->second;
}

Result<int32_t> KafkaSink::PartitionCount(TopicEntry& entry) {
  if (entry.partitions > 0) return entry.partitions;
  auto md = FetchMetadata(producer_.get(), entry.topic.get(), options_.connect_timeout);
  if (!md.ok()) return md.status();
  if ((*md)->topic_cnt < 1 || (*md)->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ToStatus((*md)->topic_cnt < 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC : (*md)->topics[0].err,
                    "partitions of topic " + entry.name);
  }
  entry.partitions = (*md)->topics[0].partition_cnt;
  return entry.partitions;
}

Status KafkaSink::Produce(rd_kafka_topic_t* topic, int32_t partition, std::string_view key,
                          bool has_key, const std::string* value, uint64_t seq) {
  auto deadline = Clock::now() + options_.flush_timeout;
  while (true) {
    rd_kafka_vu_t vu[5];
    vu[0].vtype = RD_KAFKA_VTYPE_RKT;
    vu[0].u.rkt = topic;
    vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[1].u.i32 = partition;
    vu[2].vtype = RD_KAFKA_VTYPE_KEY;
    vu[2].u.mem.ptr = has_key ? const_cast<char*>(key.data()) : nullptr;
    vu[2].u.mem.size = has_key ? key.size() : 0;
    vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[3].u.mem.ptr = value ? const_cast<char*>(value->data()) : nullptr;
    vu[3].u.mem.size = value ? value->size() : 0;
    vu[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[4].u.ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(seq));
    // Headers: the position and op of the change, from its in-flight entry.
    const InFlight& f = in_flight_[seq - first_seq_];
    std::string lsn = f.position.lsn.ToString();
    std::string pos_seq = std::to_string(f.position.seq);
    const char* op = value ? OpName(f.op) : "delete";
    rd_kafka_vu_t all[9];
    std::copy(vu, vu + 5, all);
    all[8].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    all[8].u.i = RD_KAFKA_MSG_F_COPY;  // key and value live in buffers reused right away
    all[5].vtype = RD_KAFKA_VTYPE_HEADER;
    all[5].u.header = {kHeaderLsn, lsn.data(), static_cast<ssize_t>(lsn.size())};
    all[6].vtype = RD_KAFKA_VTYPE_HEADER;
    all[6].u.header = {kHeaderSeq, pos_seq.data(), static_cast<ssize_t>(pos_seq.size())};
    all[7].vtype = RD_KAFKA_VTYPE_HEADER;
    all[7].u.header = {kHeaderOp, op, -1};
    ErrorPtr err(rd_kafka_produceva(producer_.get(), all, 9));
    if (!err) {
      ++stats_.produced;
      produced_metric_.Add();
      return Status::Ok();
    }
    rd_kafka_resp_err_t code = rd_kafka_error_code(err.get());
    if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return ToStatus(code, std::string("produce to ") + rd_kafka_topic_name(topic));
    }
    if (Clock::now() >= deadline) {
      return Status::Unavailable("the producer queue stayed full for " +
                                 std::to_string(options_.flush_timeout.count()) +
                                 " ms: are the brokers reachable?");
    }
    rd_kafka_poll(producer_.get(), 100);
    SLUICE_RETURN_IF_ERROR(StopStatus());
  }
}

Status KafkaSink::ProduceChange(const Change& c, Cursor& cursor) {
  scratch_.Clear();
  BuildMessages(c, options_.build, NowMs(), &scratch_);
  auto entry = TopicFor(c.table);
  if (!entry.ok()) return entry.status();
  for (; cursor.message < scratch_.size(); ++cursor.message, cursor.partition = 0) {
    const OutMessage& m = scratch_[cursor.message];
    int32_t count = 1;
    if (m.all_partitions) {
      auto n = PartitionCount(**entry);
      if (!n.ok()) return n.status();
      count = *n;
    }
    for (; cursor.partition < count; ++cursor.partition) {
      in_flight_.push_back({c.table, c.position, m.op, c.xid, c.commit_time_us, false});
      uint64_t seq = next_seq_;
      int32_t partition = m.all_partitions ? cursor.partition : RD_KAFKA_PARTITION_UA;
      Status s = Produce((*entry)->topic.get(), partition, m.key, !m.key.empty(),
                         m.tombstone ? nullptr : &m.value, seq);
      if (!s.ok()) {
        in_flight_.pop_back();
        // librdkafka refuses a message it knows no broker takes (message.max.bytes) at once.
        if (s.code() == StatusCode::kRejected) return DeadLetter(c, s.message());
        return s;
      }
      ++next_seq_;
    }
  }
  return Status::Ok();
}

Status KafkaSink::Write(const Batch& batch) {
  SLUICE_RETURN_IF_ERROR(EnsureProducer());
  SLUICE_RETURN_IF_ERROR(StopStatus());
  Cursor cursor;
  cursor.batch = batch.id;
  if (resume_pending_ && resume_.batch == batch.id) cursor = resume_;
  resume_pending_ = false;
  for (; cursor.change < batch.changes.size(); ++cursor.change, cursor.message = 0) {
    Status s = ProduceChange(batch.changes[cursor.change], cursor);
    if (!s.ok()) {
      resume_pending_ = true;
      resume_ = cursor;
      return s.WithContext("sink " + ctx_.sink);
    }
  }
  rd_kafka_poll(producer_.get(), 0);  // serve delivery reports as they come
  in_flight_metric_.Set(static_cast<double>(in_flight_.size()));
  return Status::Ok();
}

Status KafkaSink::StopStatus() {
  if (producer_) {
    std::string fatal = FatalError(producer_.get());
    if (!fatal.empty()) {
      return Status::Internal("the Kafka producer hit a fatal error and cannot go on: " + fatal);
    }
  }
  return stop_;
}

Status KafkaSink::ResendFailed() {
  std::vector<Resend> todo;
  todo.swap(resends_);
  for (size_t i = 0; i < todo.size(); ++i) {
    const Resend& r = todo[i];
    Status s =
        Produce(r.topic, r.partition, r.key, r.has_key, r.tombstone ? nullptr : &r.value, r.seq);
    if (!s.ok()) {
      resends_.insert(resends_.end(), std::make_move_iterator(todo.begin() + i),
                      std::make_move_iterator(todo.end()));
      return s;
    }
    ++stats_.resent;
    resent_metric_.Add();
  }
  return Status::Ok();
}

Status KafkaSink::DeadLetter(const Change& c, const std::string& reason) {
  spdlog::warn("{}: dead-lettering a change of {} at {}/{}: {}", hooks_.what,
               c.table ? c.table->ToString() : "?", c.position.lsn.ToString(), c.position.seq,
               reason);
  if (!ctx_.dead_letters) return Status::Internal("no dead-letter destination for: " + reason);
  SLUICE_RETURN_IF_ERROR(ctx_.dead_letters->Write(ctx_.pipeline, ctx_.sink, c, reason));
  ++stats_.dead_lettered;
  dead_letter_metric_.Add();
  return Status::Ok();
}

Status KafkaSink::HandleFailures() {
  while (!failures_.empty()) {
    const Failure& f = failures_.back();
    InFlight& entry = in_flight_[f.seq - first_seq_];
    // The change itself is gone (its batch was released after Write): rebuild what the dead
    // letter needs from the in-flight entry and the message key.
    Change c;
    c.op = entry.op;
    c.table = entry.table;
    c.key = KeyRow(f.key);
    c.position = entry.position;
    c.xid = entry.xid;
    c.commit_time_us = entry.commit_time_us;
    SLUICE_RETURN_IF_ERROR(DeadLetter(c, f.reason));
    entry.done = true;
    failures_.pop_back();
  }
  return Status::Ok();
}

void KafkaSink::PopDelivered() {
  while (!in_flight_.empty() && in_flight_.front().done) {
    durable_ = in_flight_.front().position;
    in_flight_.pop_front();
    ++first_seq_;
  }
  in_flight_metric_.Set(static_cast<double>(in_flight_.size()));
  durable_metric_.Set(static_cast<double>(durable_.lsn.value()));
}

Status KafkaSink::Flush() {
  if (!producer_) return Status::Ok();
  auto deadline = Clock::now() + options_.flush_timeout;
  while (true) {
    SLUICE_RETURN_IF_ERROR(StopStatus());
    SLUICE_RETURN_IF_ERROR(ResendFailed());
    SLUICE_RETURN_IF_ERROR(HandleFailures());
    PopDelivered();
    if (in_flight_.empty()) return Status::Ok();
    if (Clock::now() >= deadline) {
      const InFlight& first = in_flight_.front();
      return Status::Unavailable(
          std::to_string(in_flight_.size()) + " messages have no delivery report after " +
          std::to_string(options_.flush_timeout.count()) + " ms (the oldest at " +
          first.position.lsn.ToString() + "/" + std::to_string(first.position.seq) +
          "); librdkafka keeps retrying them");
    }
    rd_kafka_flush(producer_.get(), 100);
  }
}

namespace {

std::vector<OptionSpec> SinkOptions() {
  std::vector<OptionSpec> specs = {
      {"topic", OptionType::kString, "", false,
       "Topic template: {source}, {schema}, {table}; default the pipe target, else "
       "{source}.{schema}.{table}"},
      {"format",
       OptionType::kEnum,
       "sluice",
       false,
       "sluice: the line format; debezium: Debezium's change event (before/after/source/op)",
       {"sluice", "debezium"}},
      {"compression",
       OptionType::kEnum,
       "none",
       false,
       "compression.codec",
       {"none", "gzip", "snappy", "lz4", "zstd"}},
      {"linger", OptionType::kDuration, "5ms", false,
       "linger.ms: how long the producer waits to fill a batch"},
      {"tombstones", OptionType::kBool, "false", false,
       "Send a null-value message after each delete (for compacted topics)"},
      {"max_in_flight", OptionType::kInt, "100000", false,
       "Messages awaiting delivery reports before the sink waits for them"},
      {"flush_timeout", OptionType::kDuration, "30s", false,
       "How long one flush waits for delivery reports before reporting a retry"},
      {"connect_timeout", OptionType::kDuration, "10s", false,
       "How long opening (and `sluice check --connect`) waits for the brokers"},
  };
  for (auto& s : CommonOptionSpecs()) specs.push_back(std::move(s));
  return specs;
}

Result<std::unique_ptr<Sink>> CreateKafkaSink(const SinkContext& ctx) {
  const Options& o = ctx.options;
  KafkaSinkOptions opts;
  auto common = ParseCommonOptions(o);
  if (!common.ok()) return common.status();
  opts.common = std::move(common).value();
  std::string topic = o.Has("topic") ? o.String("topic") : std::string();
  if (topic.empty()) topic = ctx.target.empty() ? "{source}.{schema}.{table}" : ctx.target;
  auto tmpl = TopicTemplate::Parse(topic);
  if (!tmpl.ok()) return tmpl.status();
  opts.topic = std::move(tmpl).value();
  opts.build.format = o.String("format") == "debezium" ? Format::kDebezium : Format::kSluice;
  opts.build.tombstones = o.Bool("tombstones");
  opts.compression = o.String("compression");
  opts.linger = o.Duration("linger");
  if (o.Int("max_in_flight") < 1)
    return Status::InvalidArgument("max_in_flight must be at least 1");
  opts.max_in_flight = static_cast<size_t>(o.Int("max_in_flight"));
  opts.flush_timeout = o.Duration("flush_timeout");
  opts.connect_timeout = o.Duration("connect_timeout");
  if (opts.flush_timeout.count() < 100)
    return Status::InvalidArgument("flush_timeout must be at least 100ms");
  return std::unique_ptr<Sink>(std::make_unique<KafkaSink>(ctx, std::move(opts)));
}

}  // namespace

void RegisterKafkaSink(Registry& registry) {
  for (const char* type : {"kafka", "log"}) {
    SinkPlugin p;
    p.type = type;
    p.description = std::string(type) == "kafka"
                        ? "Writes each change to a Kafka topic (idempotent producer, keyed by "
                          "the table key, sluice or Debezium format)"
                        : "Alias of kafka";
    p.options = SinkOptions();
    p.create = CreateKafkaSink;
    registry.AddSink(std::move(p));
  }
}

}  // namespace sluice::kafka
