package auth

// CachedLogins returns how many verified passwords s remembers.
func (s *Service) CachedLogins() int { return s.logins.len() }
