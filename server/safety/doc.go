// Package safety is Faultline's safety policy, what keeps an experiment
// from hurting more than it was meant to: the ceilings on a run's load
// (Limits), the addresses a run may dial or listen on (AllowList, loopback
// only unless widened), the container endpoints a server may start
// (ContainerPolicy), the admission that applies them to a document before
// anything starts (Admit, AdmitEnvironment), and the refusal the safety
// lever makes while it is engaged (LeverError). The lever's state, and the
// halting of what runs when it is engaged, belong to the runs manager
// (server/manager/runs), which owns the runs it halts.
//
// Every refusal names the field of the document at fault, so the API and
// the CLI report it where the user wrote it.
package safety
