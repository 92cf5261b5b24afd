package queue

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Inline content is stored in a bucket of its own per message, under
// bktContent/<id>, with the bytes at key contentKey.
//
// Why not one value per id in bktContent: bbolt keeps a value inside its
// leaf node, and a leaf holds at least two keys, so the leaf that held a
// 100 KB message was written again, whole, by every commit that inserted
// or deleted a neighbour. In qmgr that doubled the bytes written per
// 100 KB message, and a sequential insert-and-delete test wrote 7× the
// content. A bucket of its own has its own pages, written once when the
// message is committed and freed when it is deleted; the parent leaf holds
// only a 16-byte bucket header. A small bucket is stored inside the parent
// leaf by bbolt itself, so small messages cost what they did.
//
// Queues written before this change hold plain values; every reader here
// accepts both forms.
var contentKey = []byte("c")

// putContent stores a message's inline content.
func putContent(tx *bolt.Tx, id string, data []byte) error {
	b, err := bucket(tx, bktContent).CreateBucket([]byte(id))
	if err != nil {
		return fmt.Errorf("create content bucket: %w", err)
	}
	b.FillPercent = 1 // one key: no room is needed for later inserts
	return b.Put(contentKey, data)
}

// getContent returns id's inline content, valid only during tx, and
// whether there is any (else the content is a file).
func getContent(tx *bolt.Tx, id string) ([]byte, bool) {
	parent := bucket(tx, bktContent)
	k, v := parent.Cursor().Seek([]byte(id))
	if string(k) != id {
		return nil, false
	}
	if v != nil { // a plain value: the earlier form
		return v, true
	}
	b := parent.Bucket(k)
	if b == nil {
		return nil, false
	}
	data := b.Get(contentKey)
	if data == nil {
		return []byte{}, true // an empty message's content
	}
	return data, true
}

// deleteContent removes id's inline content, and reports whether there
// was any (else there may be a content file to remove).
func deleteContent(tx *bolt.Tx, id string) (bool, error) {
	parent := bucket(tx, bktContent)
	key := []byte(id)
	k, v := parent.Cursor().Seek(key)
	switch {
	case string(k) != id:
		return false, nil
	case v != nil:
		return true, parent.Delete(key)
	default:
		return true, parent.DeleteBucket(key)
	}
}
