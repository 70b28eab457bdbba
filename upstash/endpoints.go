package upstash

import (
	"context"
	"errors"
	"io"
	"net/url"
)

// ClassInvalid marks a call that was not sent because its arguments could
// not name what they should (an empty database id, "." or "..").
const ClassInvalid = "invalid"

// ListBackups returns the backups of one database
// (GET /redis/list-backup/{id}). The answer is decoded as it arrives: see
// decodeBackupStream for what it costs.
func (c *Client) ListBackups(ctx context.Context, databaseID string) (BackupList, error) {
	if err := checkID(EndpointListBackup, databaseID); err != nil {
		return BackupList{}, err
	}
	var list BackupList
	err := c.get(ctx, EndpointListBackup, databaseID, "/redis/list-backup/"+url.PathEscape(databaseID), func(body io.Reader) error {
		var err error
		list, err = decodeBackupStream(body, c.now(), databaseID, &c.entries)
		return err
	})
	if err != nil {
		return BackupList{}, err
	}
	// Reasons quote what the answer holds, which an API echoing the
	// request could make the key.
	for i := range list.Problems {
		list.Problems[i].Reason = c.redact(list.Problems[i].Reason)
	}
	return list, nil
}

// checkID refuses database ids that cannot name a database in a path: ""
// and the dot segments, which a normalising proxy on the way would turn
// into another endpoint (url.PathEscape leaves them as they are).
func checkID(endpoint, databaseID string) error {
	switch databaseID {
	case "":
		return &APIError{Endpoint: endpoint, Class: ClassInvalid, Err: errors.New("empty database id")}
	case ".", "..":
		return &APIError{Endpoint: endpoint, DatabaseID: databaseID, Class: ClassInvalid, Err: errors.New("a database id cannot be a dot segment")}
	}
	return nil
}

// ListDatabases returns every Redis database the key can see
// (GET /redis/databases).
func (c *Client) ListDatabases(ctx context.Context) ([]Database, error) {
	var dbs []Database
	err := c.get(ctx, EndpointListDatabases, "", "/redis/databases", func(body io.Reader) error {
		var err error
		dbs, err = decodeDatabaseStream(body)
		return err
	})
	if err != nil {
		return nil, err
	}
	// These fields become label values; an API echoing the request could
	// make them the key.
	for i := range dbs {
		db := &dbs[i]
		db.Name, db.Plan, db.Region = c.redact(db.Name), c.redact(db.Plan), c.redact(db.Region)
		db.PrimaryRegion, db.State = c.redact(db.PrimaryRegion), c.redact(db.State)
	}
	return dbs, nil
}
