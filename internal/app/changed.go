package app

import "github.com/pdp-sidecar/pdp/internal/policy"

// changedOnDisk reads src as a build would and says whether its files are
// no longer those of revision (added, removed or rewritten). An error is
// what reading failed on: the watcher and the next reload will say more.
func changedOnDisk(src policy.Sources, revision string) (bool, error) {
	policyFiles, dataFiles, err := policy.Read(src)
	if err != nil {
		return false, err
	}
	return policy.Revision(policyFiles, dataFiles) != revision, nil
}
