// Transforms: the `select`, `drop`, `rename` and `where` stages of a pipe, applied to each
// change between the source and the sinks. Built once per pipeline from its TransformSpecs;
// immutable afterwards, so one instance may be used from several threads.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/change.h"
#include "runtime/config_model.h"

namespace sluice {

class Transform {
 public:
  virtual ~Transform() = default;
  // Rewrites the change in place; returns false to drop it.
  virtual bool Apply(Change& change) const = 0;
};

// Semantics:
//  - select / drop keep / remove columns of `before` and `after` (never of `key` or
//    `old_key`: sinks need the key). select orders the columns as listed; listed columns a
//    row lacks are skipped.
//  - rename renames in key, old_key, before and after, all pairs at once (`a=b, b=a` swaps);
//    a renamed column replaces a column that already had the new name.
//  - where tests `after` of read/insert/update. A read or insert that fails is dropped; an
//    update that fails becomes a delete of the row's key (of old_key if the key changed), so
//    sinks remove a row that left the filter. Deletes and truncates always pass, as do
//    changes whose column is absent or an unchanged TOAST value. A NULL value fails every
//    comparison (SQL); only `is null` matches it. An unquoted numeric literal compared with
//    an int/float/numeric value compares exactly as decimals; otherwise text is compared
//    byte-wise (bools as "true"/"false").
std::unique_ptr<Transform> BuildTransform(const TransformSpec& spec);
std::vector<std::unique_ptr<Transform>> BuildTransforms(const std::vector<TransformSpec>& specs);

// Applies all transforms, in order, to every change in the batch, erasing dropped ones;
// updates batch.bytes. The batch itself stays (it may carry a checkpoint) even if emptied.
void ApplyTransforms(const std::vector<std::unique_ptr<Transform>>& transforms, Batch& batch);

// Compares two numbers given as text ("-12.50", "1e3", "Infinity", "NaN") exactly, however
// many digits they have: <0, 0 or >0. NaN equals NaN and sorts above everything, as in
// PostgreSQL. nullopt when either is not a number.
std::optional<int> CompareNumbers(std::string_view a, std::string_view b);

}  // namespace sluice
