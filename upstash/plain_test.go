package upstash

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodePlain checks decodePlain against encoding/json, which it
// stands in for: whatever entry it accepts, encoding/json reads without
// error and to the same fields, for list-backup and list-databases.
func FuzzDecodePlain(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"backup_id":"b1","creation_time":1757000716,"state":"completed","backup_size":0,"daily_backup":"true","hourly_backup":false}`,
		`{"database_id":"db1","customer_id":"example@upstash.com","name":"test","backup_id":"b1","creation_time":1757000716,"state":"pending","backup_size":0,"daily_backup":"false","hourly_backup":"false","internal_backup_tag":""}`,
		`{"State":"x"}`, `{"STATE":"failed","state":"completed"}`, `{"state":"a","state":"b"}`, `{"state":null,"creation_time":null}`,
		`{"state":1}`, `{"state":true}`, `{"state":-0}`, `{"state":01}`, `{"state":1.5}`, `{"state":1e3}`, `{"state":-}`,
		`{"state":"a\"b"}`, "{\"state\":\"a\tb\"}", "{\"state\":\"\xff\"}", "{\"n\xc3\xa9\":1}", "{\"\u017ftate\":\"x\"}",
		`{"state":{"a":1}}`, `{"x":[1]}`, `{"x":1,}`, `{,}`, `{"x"}`, `{"x":}`, `{"x":1 "y":2}`, `{"x":truex}`, `{"x":nul}`,
		`{"x":1}}`, `{"x":1} `, `{"database_id":"d1","database_name":"orders","type":"pro","daily_backup_enabled":true,"password":"p"}`,
		`{"Database_Name":"x"}`, `{"region":7,"primary_region":null}`, "{\r\n\t\"state\" :\n\"completed\" , \"x\":null\n}", `{"":""}`, `[]`, `"x"`, `1`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, elem []byte) {
		var fastDB, slowDB wireDatabase
		if decodePlain(elem, fastDB.set) {
			if err := json.Unmarshal(elem, &slowDB); err != nil {
				t.Fatalf("decodePlain accepted %q, which json.Unmarshal rejects: %v", elem, err)
			}
			if !reflect.DeepEqual(fastDB, slowDB) {
				t.Errorf("%q: decodePlain read %+v, json.Unmarshal %+v", elem, fastDB, slowDB)
			}
		}
		var fast wireBackup
		if !decodePlain(elem, fast.set) {
			return
		}
		var slow wireBackup
		dec := json.NewDecoder(bytes.NewReader(elem))
		if err := dec.Decode(&slow); err != nil {
			t.Fatalf("decodePlain accepted %q, which the json.Decoder rejects: %v", elem, err)
		}
		if n := dec.InputOffset(); n != int64(len(elem)) {
			t.Fatalf("decodePlain accepted %q, of which the json.Decoder reads %d bytes", elem, n)
		}
		for _, f := range []struct {
			name       string
			fast, slow []byte
		}{
			{"database_id", fast.DatabaseID, slow.DatabaseID},
			{"backup_id", fast.BackupID, slow.BackupID},
			{"state", fast.State, slow.State},
			{"creation_time", fast.CreationTime, slow.CreationTime},
			{"backup_size", fast.BackupSize, slow.BackupSize},
			{"daily_backup", fast.DailyBackup, slow.DailyBackup},
			{"hourly_backup", fast.HourlyBackup, slow.HourlyBackup},
		} {
			if !bytes.Equal(f.fast, f.slow) {
				t.Errorf("%q: %s = %q, the json.Decoder reads %q", elem, f.name, f.fast, f.slow)
			}
		}
	})
}

func TestDecodePlainReadsTheCommonShape(t *testing.T) {
	t.Parallel()
	elem := []byte(`{"database_id":"db1","customer_id":"example@upstash.com","name":"test","backup_id":"b1","creation_time":1757000716,"state":"pending","backup_size":0,"daily_backup":"false","hourly_backup":false,"internal_backup_tag":""}`)
	var w wireBackup
	if !decodePlain(elem, w.set) {
		t.Fatalf("decodePlain left the common shape to the json.Decoder")
	}
	if string(w.DatabaseID) != "db1" || string(w.BackupID) != "b1" || string(w.State) != "pending" || string(w.CreationTime) != "1757000716" ||
		string(w.BackupSize) != "0" || string(w.DailyBackup) != `"false"` || string(w.HourlyBackup) != "false" {
		t.Errorf("decodePlain read %+v", w)
	}
}
