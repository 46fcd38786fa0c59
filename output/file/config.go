package file

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sluicelab/sluice/internal/event"
)

// Config configures the file output (config keys under output.file).
type Config struct {
	// Dir holds the daily files; it is created (0750) when missing.
	Dir string `mapstructure:"dir"`
	// FlowsIndex and SyslogIndex name the daily files: Dir/<name>.ndjson.
	// Events of other kinds go with the flows.
	FlowsIndex  string `mapstructure:"flows_index"`
	SyslogIndex string `mapstructure:"syslog_index"`
	// Timezone picks the day boundary of the index names (IANA name).
	Timezone string `mapstructure:"timezone"`
	// FsyncInterval is the most time written data may stay unsynced; 0
	// syncs after every batch.
	FsyncInterval time.Duration `mapstructure:"fsync_interval"`
	// FileMode is the permission of newly created files.
	FileMode os.FileMode `mapstructure:"file_mode"`
	// MaxOpenFiles bounds the open daily files; the least recently written
	// is closed first (late or early events may touch other days).
	MaxOpenFiles int `mapstructure:"max_open_files"`
}

// Default returns the default configuration.
func Default() Config {
	return Config{
		Dir:           "./data",
		FlowsIndex:    "sluice-flows-%{+yyyy.MM.dd}",
		SyslogIndex:   "sluice-syslog-%{+yyyy.MM.dd}",
		Timezone:      "UTC",
		FsyncInterval: time.Second,
		FileMode:      0o640,
		MaxOpenFiles:  8,
	}
}

// Validate reports every problem of c, each naming its key and a fix.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New(`output.file.dir: is empty; set a directory or remove the key to use "./data"`))
	}
	if _, err := event.NewIndexNamer(c.FlowsIndex, time.UTC); err != nil {
		errs = append(errs, fmt.Errorf("output.file.flows_index: %w", err))
	}
	if _, err := event.NewIndexNamer(c.SyslogIndex, time.UTC); err != nil {
		errs = append(errs, fmt.Errorf("output.file.syslog_index: %w", err))
	}
	if c.FlowsIndex != "" && c.FlowsIndex == c.SyslogIndex {
		errs = append(errs, fmt.Errorf("output.file.syslog_index: %q is the same as output.file.flows_index; give syslog its own pattern such as sluice-syslog-%%{+yyyy.MM.dd}", c.SyslogIndex))
	}
	if _, err := loadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("output.file.timezone: %q is not a known time zone (%v); use an IANA name such as UTC or Europe/Berlin", c.Timezone, err))
	}
	if c.FsyncInterval < 0 {
		errs = append(errs, fmt.Errorf("output.file.fsync_interval: %s is negative; use 0 to sync after every batch or a duration such as 1s", c.FsyncInterval))
	}
	if c.FileMode&^os.ModePerm != 0 {
		errs = append(errs, fmt.Errorf("output.file.file_mode: %#o has bits other than permissions; use a mode such as 0640", uint32(c.FileMode)))
	} else if c.FileMode&0o200 == 0 {
		errs = append(errs, fmt.Errorf("output.file.file_mode: %#o does not let the owner write; use a mode such as 0640", uint32(c.FileMode)))
	}
	if c.MaxOpenFiles < 1 {
		errs = append(errs, fmt.Errorf("output.file.max_open_files: %d is below 1; raise it or remove the key to use 8", c.MaxOpenFiles))
	}
	return errors.Join(errs...)
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		return nil, errors.New("empty")
	}
	return time.LoadLocation(name)
}
