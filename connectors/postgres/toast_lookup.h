// ToastLookup (`toast: lookup`): replaces the unchanged TOAST values of a batch's changes
// with the row's current values, read by key over an ordinary connection, one query per
// table per batch, for sinks that need whole rows.
#pragma once

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/pg_conn.h"
#include "core/change.h"

namespace sluice::pg {

// Fills what it can: a row deleted since keeps its columns marked unchanged (its delete
// follows in the stream). The value read is the current one, possibly newer than the change;
// the stream's later changes bring the row to the same final state either way.
// `conn` must not be inside a transaction. Keys are matched by their text form, so a key
// column of type bytea is never found (its values stay unchanged).
Status FillUnchanged(PgConn& conn, const TypeOverrides& types, Batch* batch);

}  // namespace sluice::pg
