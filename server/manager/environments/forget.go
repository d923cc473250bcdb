package environments

// Forget stops environment id's data plane without putting back what runs
// changed in a mesh environment's cluster, unlike Remove: another server
// on the database serves the environment now, and the changes in its
// cluster are its runs' (its sweep puts back what runs here left). One a
// run here holds is refused (a busy error); an overlay is dropped. An
// unknown ID is not an error.
func (m *Manager) Forget(id int64) error {
	p, err := m.unheld(id)
	if p == nil || err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.planes, id)
	m.mu.Unlock()
	p.close()
	return nil
}
