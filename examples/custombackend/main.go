// Command custombackend serves POP3 and IMAP over an imaginary host store:
// the model for plugging your own storage into mailfront. The runnable
// program comes in the next step.
package main

func main() {}
