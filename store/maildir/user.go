package maildir

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mailfront/mailfront/imap4"
)

// subscriptionsFile lists the user's subscriptions, one UTF-8 mailbox name
// ("/" between levels) per line.
const subscriptionsFile = "subscriptions"

// user is the imap4.User of one session.
type user struct {
	u      *userState
	closed bool
}

var _ imap4.User = (*user)(nil)

// isINBOX reports whether a name (or a level of one) is INBOX.
func isINBOX(name string) bool { return strings.EqualFold(name, "INBOX") }

// ListMailboxes implements imap4.User.
func (h *user) ListMailboxes(ctx context.Context) ([]imap4.MailboxInfo, error) {
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	fsys := u.s.fsys()
	names, err := fsys.ReadDirNames(u.root)
	if err != nil {
		return nil, err
	}
	present := map[string]bool{"INBOX": true}
	infos := []imap4.MailboxInfo{{Name: "INBOX"}}
	for _, n := range names {
		name, ok := folderName(n)
		if !ok {
			continue
		}
		path := filepath.Join(u.root, n)
		if fi, err := fsys.Lstat(path); err != nil || !fi.IsDir() {
			continue
		}
		present[name] = true
		infos = append(infos, imap4.MailboxInfo{Name: name, SpecialUse: readSpecialUse(fsys, path)})
	}
	for _, info := range infos {
		levels := strings.Split(info.Name, "/")
		for i := 1; i < len(levels); i++ {
			p := strings.Join(levels[:i], "/")
			if i == 1 && isINBOX(p) {
				continue
			}
			if !present[p] {
				present[p] = true
				infos = append(infos, imap4.MailboxInfo{Name: p, NoSelect: true})
			}
		}
	}
	subs, err := u.readSubscriptions()
	if err != nil {
		return nil, err
	}
	subscribed := make(map[string]bool, len(subs))
	for _, s := range subs {
		subscribed[s] = true
	}
	for i := range infos {
		infos[i].Subscribed = subscribed[infos[i].Name]
	}
	for _, s := range subs {
		if !present[s] {
			infos = append(infos, imap4.MailboxInfo{Name: s, Subscribed: true, NonExistent: true})
		}
	}
	return infos, nil
}

// readSpecialUse returns the special-use attribute of a folder directory.
func readSpecialUse(fsys fileSystem, dir string) string {
	data, err := readFile(fsys, filepath.Join(dir, specialUseFile))
	if err != nil {
		return ""
	}
	use := strings.TrimSpace(string(data))
	if !validSpecialUse(use) {
		return ""
	}
	return use
}

// validSpecialUse reports the attributes a folder can hold (RFC 6154);
// \All and \Flagged are virtual mailboxes this store does not have.
func validSpecialUse(use string) bool {
	for _, sf := range specialFolders {
		if use == sf.use {
			return true
		}
	}
	return false
}

// Status implements imap4.User.
func (h *user) Status(ctx context.Context, name string) (imap4.MailboxStatus, error) {
	f, err := h.u.folder(name)
	if err != nil {
		return imap4.MailboxStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.readyLocked(false); err != nil {
		return imap4.MailboxStatus{}, err
	}
	return f.statusLocked(), nil
}

// CreateMailbox implements imap4.User. Missing parent levels are created
// as mailboxes too.
func (h *user) CreateMailbox(ctx context.Context, name string, opts *imap4.CreateOptions) error {
	if isINBOX(name) {
		return imap4.ErrMailboxExists
	}
	var use string
	if opts != nil && opts.SpecialUse != "" {
		use = opts.SpecialUse
		for _, sf := range specialFolders {
			if strings.EqualFold(use, sf.use) {
				use = sf.use
			}
		}
		if !validSpecialUse(use) {
			return fmt.Errorf("maildir: special use %q: %w", opts.SpecialUse, imap4.ErrCannot)
		}
	}
	dir, err := folderDirName(name)
	if err != nil {
		return err
	}
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.folders == nil {
		return ErrClosed
	}
	if exists(u.s.fsys(), filepath.Join(u.root, dir)) {
		return imap4.ErrMailboxExists
	}
	if err := u.makeParentsLocked(name); err != nil {
		return err
	}
	if err := u.makeFolderDir(dir, use); err != nil {
		return err
	}
	delete(u.folders, name) // a deleted folder of the same name
	return nil
}

// makeParentsLocked creates the missing levels above name.
func (u *userState) makeParentsLocked(name string) error {
	levels := strings.Split(name, "/")
	for i := 1; i < len(levels); i++ {
		p := strings.Join(levels[:i], "/")
		if i == 1 && isINBOX(p) {
			continue
		}
		pd, err := folderDirName(p)
		if err != nil {
			return err
		}
		if exists(u.s.fsys(), filepath.Join(u.root, pd)) {
			continue
		}
		if err := u.makeFolderDir(pd, ""); err != nil && !errors.Is(err, imap4.ErrMailboxExists) {
			return err
		}
	}
	return nil
}

// childDirs returns the directory names of the folders below dir.
func (u *userState) childDirs(dir string) ([]string, error) {
	names, err := u.s.fsys().ReadDirNames(u.root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, dir+".") {
			if _, ok := folderName(n); ok {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// DeleteMailbox implements imap4.User. The directory is first renamed out
// of sight (atomic), then removed, so a crash never leaves half a
// mailbox. Children are separate directories in Maildir++ and stay; the
// name then lists as \Noselect.
func (h *user) DeleteMailbox(ctx context.Context, name string) error {
	if isINBOX(name) {
		return fmt.Errorf("maildir: cannot delete INBOX: %w", imap4.ErrCannot)
	}
	dir, err := folderDirName(name)
	if err != nil {
		return err
	}
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.folders == nil {
		return ErrClosed
	}
	fsys := u.s.fsys()
	path := filepath.Join(u.root, dir)
	if fi, err := fsys.Lstat(path); err != nil || !fi.IsDir() {
		children, err := u.childDirs(dir)
		if err != nil {
			return err
		}
		if len(children) > 0 {
			return imap4.ErrHasChildren
		}
		return fmt.Errorf("%w: %q", imap4.ErrNoSuchMailbox, name)
	}
	if f := u.folders[name]; f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
	}
	trash := filepath.Join(u.root, tmpStatePrefix+"deleted-"+randomSuffix())
	if err := fsys.Rename(path, trash); err != nil {
		return err
	}
	if err := fsys.SyncDir(u.root); err != nil {
		return err
	}
	if err := fsys.RemoveAll(trash); err != nil {
		u.s.logger().Warn("maildir: removing deleted mailbox", "dir", trash, "err", err)
	}
	if f := u.folders[name]; f != nil {
		f.markGoneLocked()
		delete(u.folders, name)
	}
	return nil
}

// RenameMailbox implements imap4.User. A mailbox keeps its UIDVALIDITY and
// UIDs (its directory, index included, is renamed); its children are
// renamed with it, and so are subscriptions. Renaming INBOX moves its
// messages to a new mailbox and leaves INBOX empty, with its UIDVALIDITY.
func (h *user) RenameMailbox(ctx context.Context, oldName, newName string) error {
	if isINBOX(newName) {
		return imap4.ErrMailboxExists
	}
	newDir, err := folderDirName(newName)
	if err != nil {
		return err
	}
	u := h.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.folders == nil {
		return ErrClosed
	}
	fsys := u.s.fsys()
	if oldName == "INBOX" {
		return u.renameINBOXLocked(newName, newDir)
	}
	oldDir, err := folderDirName(oldName)
	if err != nil {
		return err
	}
	if newName == oldName || strings.HasPrefix(newName, oldName+"/") {
		return fmt.Errorf("maildir: cannot rename a mailbox into itself: %w", imap4.ErrCannot)
	}
	type move struct{ from, to, oldName, newName string }
	var moves []move
	if fi, err := fsys.Lstat(filepath.Join(u.root, oldDir)); err == nil && fi.IsDir() {
		moves = append(moves, move{oldDir, newDir, oldName, newName})
	}
	children, err := u.childDirs(oldDir)
	if err != nil {
		return err
	}
	for _, c := range children {
		cn, _ := folderName(c)
		to := newDir + c[len(oldDir):]
		if len(to) > maxFolderDir {
			return fmt.Errorf("%w: name too long", errBadMailboxName)
		}
		moves = append(moves, move{c, to, cn, newName + cn[len(oldName):]})
	}
	if len(moves) == 0 {
		return fmt.Errorf("%w: %q", imap4.ErrNoSuchMailbox, oldName)
	}
	for _, m := range moves {
		if exists(fsys, filepath.Join(u.root, m.to)) {
			return imap4.ErrMailboxExists
		}
	}
	if err := u.makeParentsLocked(newName); err != nil {
		return err
	}
	// The loaded folders are locked (in the order copies and moves use)
	// while their directories move, so that no operation or poller sees a
	// folder whose directory is gone.
	var loaded []*folder
	for _, m := range moves {
		if f := u.folders[m.oldName]; f != nil {
			loaded = append(loaded, f)
		}
	}
	slices.SortFunc(loaded, func(a, b *folder) int { return cmp.Compare(a.id, b.id) })
	for _, f := range loaded {
		f.mu.Lock()
	}
	defer func() {
		for _, f := range loaded {
			f.mu.Unlock()
		}
	}()
	for i, m := range moves {
		if err := fsys.Rename(filepath.Join(u.root, m.from), filepath.Join(u.root, m.to)); err != nil {
			for j := i - 1; j >= 0; j-- {
				fsys.Rename(filepath.Join(u.root, moves[j].to), filepath.Join(u.root, moves[j].from))
			}
			return err
		}
	}
	renamed := make(map[string]string, len(moves))
	for _, m := range moves {
		renamed[m.oldName] = m.newName
		delete(u.folders, m.newName)
		if f := u.folders[m.oldName]; f != nil {
			delete(u.folders, m.oldName)
			f.name, f.dir = m.newName, filepath.Join(u.root, m.to)
			u.folders[m.newName] = f
		}
	}
	if err := fsys.SyncDir(u.root); err != nil {
		return err
	}
	return u.renameSubscriptionsLocked(renamed)
}

// renameINBOXLocked moves every message of INBOX to a new mailbox.
func (u *userState) renameINBOXLocked(newName, newDir string) error {
	if exists(u.s.fsys(), filepath.Join(u.root, newDir)) {
		return imap4.ErrMailboxExists
	}
	if err := u.makeParentsLocked(newName); err != nil {
		return err
	}
	if err := u.makeFolderDir(newDir, ""); err != nil {
		return err
	}
	src, err := u.folderLocked("INBOX")
	if err != nil {
		return err
	}
	dst, err := u.folderLocked(newName)
	if err != nil {
		return err
	}
	src.mu.Lock()
	err = src.readyLocked(true)
	var uids []imap4.UID
	if err == nil {
		for _, e := range src.st.msgs {
			uids = append(uids, e.uid)
		}
	}
	src.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = copyTo(src, dst, uids, true, nil)
	return err
}

// readSubscriptions reads the subscriptions file.
func (u *userState) readSubscriptions() ([]string, error) {
	data, err := readFile(u.s.fsys(), filepath.Join(u.root, subscriptionsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

// writeSubscriptions replaces the subscriptions file.
func (u *userState) writeSubscriptions(subs []string) error {
	var b strings.Builder
	for _, s := range subs {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return writeFileAtomic(u.s.fsys(), filepath.Join(u.root, subscriptionsFile), []byte(b.String()))
}

// updateSubscriptions adds or removes names.
func (u *userState) updateSubscriptions(names []string, add bool) error {
	subs, err := u.readSubscriptions()
	if err != nil {
		return err
	}
	changed := false
	for _, n := range names {
		i := slices.Index(subs, n)
		switch {
		case add && i < 0:
			subs = append(subs, n)
			changed = true
		case !add && i >= 0:
			subs = slices.Delete(subs, i, i+1)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return u.writeSubscriptions(subs)
}

// renameSubscriptionsLocked follows renamed mailboxes in the
// subscriptions.
func (u *userState) renameSubscriptionsLocked(renamed map[string]string) error {
	subs, err := u.readSubscriptions()
	if err != nil {
		return err
	}
	changed := false
	for i, s := range subs {
		if n, ok := renamed[s]; ok {
			subs[i] = n
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return u.writeSubscriptions(subs)
}

// SetSubscribed implements imap4.User.
func (h *user) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	if name == "" || strings.ContainsAny(name, "\r\n\x00") {
		return fmt.Errorf("%w: %q", errBadMailboxName, name)
	}
	h.u.mu.Lock()
	defer h.u.mu.Unlock()
	return h.u.updateSubscriptions([]string{name}, subscribed)
}

// OpenMailbox implements imap4.User.
func (h *user) OpenMailbox(ctx context.Context, name string) (imap4.Mailbox, error) {
	u := h.u
	f, err := u.folder(name)
	if err != nil {
		return nil, err
	}
	u.s.mu.Lock()
	u.refs++
	u.s.mu.Unlock()
	m := &mailbox{u: u, f: f, watch: make(chan struct{}, 1)}
	f.mu.Lock()
	err = f.readyLocked(false)
	if err == nil {
		f.addWatcherLocked(m, m.watch)
	}
	f.mu.Unlock()
	if err != nil {
		u.s.release(u)
		return nil, err
	}
	return m, nil
}

// Close implements imap4.User.
func (h *user) Close() error {
	if !h.closed {
		h.closed = true
		h.u.s.release(h.u)
	}
	return nil
}
