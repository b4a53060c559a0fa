package app

import "github.com/pdp-sidecar/pdp/internal/policy"

// changedOnDisk says whether the files of src are no longer those of
// revision (added, removed or rewritten), reading them as a build would, one
// at a time. An error is what reading failed on: the watcher and the next
// reload will say more.
func changedOnDisk(src policy.Sources, revision string) (bool, error) {
	now, err := policy.RevisionOf(src)
	if err != nil {
		return false, err
	}
	return now != revision, nil
}
