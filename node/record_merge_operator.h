#ifndef SESH_NODE_RECORD_MERGE_OPERATOR_H_
#define SESH_NODE_RECORD_MERGE_OPERATOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "rocksdb/merge_operator.h"
#include "rocksdb/slice.h"

namespace sesh {

// The sessions column family's merge operator. Its operands are whole
// replicated records (a replica applies a peer's state as a blind write:
// RocksDB merges it into the stored one with replication/merge.h when the
// key is read or compacted), or, from stores written by older versions,
// 8-byte last_access values merged by max.
std::shared_ptr<rocksdb::MergeOperator> NewRecordMergeOperator();

// The access column family's operator: 8-byte last_access values merged by
// max, so persisting a touch is a blind write and compacting one costs a
// comparison.
std::shared_ptr<rocksdb::MergeOperator> NewMaxAccessMergeOperator();

// A last_access (or clock stamp) as those 8 bytes, big-endian; a value of
// another size decodes as 0.
std::string EncodeAccess(int64_t ms);
int64_t DecodeAccess(const rocksdb::Slice& in);

}  // namespace sesh

#endif  // SESH_NODE_RECORD_MERGE_OPERATOR_H_
