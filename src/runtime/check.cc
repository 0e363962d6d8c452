#include "runtime/check.h"

#include "runtime/dead_letter_file.h"
#include "runtime/pipeline_parts.h"
#include "runtime/transforms.h"
#include "util/redact.h"

namespace sluice {

namespace {

std::string Where(const SourceLocation& where) {
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
}

// The names a row of `columns` keeps once the transforms ran: a synthetic update whose
// columns are all unchanged goes through them (select, drop and rename act on names; where
// lets unchanged values pass). `key` likewise for the key columns.
void MapNames(const std::vector<std::unique_ptr<Transform>>& transforms, const TableId& table,
              const std::vector<std::string>& columns, std::vector<std::string>* out,
              const std::vector<std::string>& key = {},
              std::vector<std::string>* key_out = nullptr) {
  Batch batch;
  Change c;
  c.op = Op::kUpdate;
  c.table = std::make_shared<const TableId>(table);
  c.after.emplace();
  for (const std::string& col : columns) c.after->push_back({col, Value::Unchanged()});
  for (const std::string& col : key) c.key.push_back({col, Value::Unchanged()});
  batch.changes.push_back(std::move(c));
  ApplyTransforms(transforms, batch);
  if (batch.changes.empty()) return;
  const Change& done = batch.changes[0];
  if (done.after) {
    for (const Field& f : *done.after) out->push_back(f.name);
  }
  if (key_out) {
    for (const Field& f : done.key) key_out->push_back(f.name);
  }
}

}  // namespace

std::vector<TableSchema> AfterTransforms(const std::vector<TableSchema>& tables,
                                         const std::vector<TransformSpec>& specs) {
  auto transforms = BuildTransforms(specs);
  std::vector<TableSchema> out;
  for (const TableSchema& t : tables) {
    TableSchema mapped{t.table, {}, {}, {}};
    MapNames(transforms, t.table, t.columns, &mapped.columns, t.key_columns, &mapped.key_columns);
    MapNames(transforms, t.table, t.may_be_unchanged, &mapped.may_be_unchanged);
    out.push_back(std::move(mapped));
  }
  return out;
}

Status CheckSinkSchemas(const PipelineConfig& pipeline, Source& source,
                        std::vector<NamedSink>& sinks) {
  auto schema = source.Describe();
  if (!schema.ok()) return Status::Ok();  // unknown (source down or cannot tell): not refused
  std::vector<TableSchema> carried = AfterTransforms(*schema, pipeline.transforms);
  for (size_t i = 0; i < sinks.size(); ++i) {
    Status s = sinks[i].sink->CheckSchema(carried);
    if (!s.ok()) {
      return s.WithContext(Where(pipeline.sinks[i].where) + ": pipeline " + pipeline.name +
                           ": sink " + sinks[i].name);
    }
  }
  return Status::Ok();
}

std::vector<std::string> CheckConnections(const Config& config, const Registry& registry) {
  std::vector<std::string> problems;
  FileDeadLetters dead_letters(config.state_dir + "/dead_letters");
  for (const PipelineConfig& pc : config.pipelines) {
    auto parts = BuildPipelineParts(config, pc, registry, &dead_letters);
    if (!parts.ok()) {
      problems.push_back(
          Redact(Where(pc.where) + ": pipeline " + pc.name + ": " + parts.status().message()));
      continue;
    }
    Status s = parts->source->Check();
    if (!s.ok())
      problems.push_back(Redact(Where(pc.where) + ": pipeline " + pc.name + ": source " +
                                pc.source + ": " + s.message()));
    auto schema = s.ok() ? parts->source->Describe() : Result<std::vector<TableSchema>>(s);
    std::vector<TableSchema> carried;
    if (schema.ok()) carried = AfterTransforms(*schema, pc.transforms);
    for (size_t i = 0; i < parts->sinks.size(); ++i) {
      const auto& sink = parts->sinks[i];
      Status k = sink.sink->Check();
      if (k.ok() && schema.ok()) k = sink.sink->CheckSchema(carried);
      if (!k.ok()) {
        problems.push_back(Redact(Where(pc.sinks[i].where) + ": pipeline " + pc.name + ": sink " +
                                  sink.name + ": " + k.message()));
      }
    }
  }
  return problems;
}

}  // namespace sluice
