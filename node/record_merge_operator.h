#ifndef SESH_NODE_RECORD_MERGE_OPERATOR_H_
#define SESH_NODE_RECORD_MERGE_OPERATOR_H_

#include <memory>

#include "rocksdb/merge_operator.h"

namespace sesh {

// The sessions column family's merge operator. Its operands are whole
// replicated records (a replica applies a peer's state as a blind write:
// RocksDB merges it into the stored one with replication/merge.h when the
// key is read or compacted), or, from stores written by older versions,
// 8-byte last_access values merged by max.
std::shared_ptr<rocksdb::MergeOperator> NewRecordMergeOperator();

}  // namespace sesh

#endif  // SESH_NODE_RECORD_MERGE_OPERATOR_H_
