// Package cib owns the Cluster Information Base model: it parses CIB XML
// (configuration plus status) as written by any Pacemaker schema version found
// in the scheduler regression suite, upgrades legacy syntax (master elements,
// Master/Slave role names, master-max meta names) to the current form, and
// decodes the status section's operation history (lrm_rsc_op records) into
// ordered, typed entries. It also evaluates rules (node attribute, date,
// resource and operation expressions) because those are part of the CIB's
// meaning and are needed by both the scheduler and operator tools.
//
// The package does no I/O beyond reading from an io.Reader handed to it.
package cib
