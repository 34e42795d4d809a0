from st2common.runners.base_action import Action


class DatastoreAction(Action):
    def run(self):
        service = self.action_service
        service.set_value("counter", 1)
        service.set_value("shared", "everyone", local=False)
        service.set_value("token", "s3cret", encrypt=True)
        service.set_value("mine", "only me", scope="user")
        listed = sorted(pair.name for pair in service.list_values())
        global_listed = sorted(pair.name for pair in service.list_values(local=False, prefix="sha"))
        deleted = service.delete_value("counter")
        deleted_again = service.delete_value("counter")
        try:
            service.get_value("x", scope="galaxy")
            bad_scope = None
        except ValueError as error:
            bad_scope = str(error)
        return {
            "counter_after_delete": service.get_value("counter"),
            "shared": service.get_value("shared", local=False),
            "token_masked": service.get_value("token"),
            "token": service.get_value("token", decrypt=True),
            "mine": service.get_value("mine", scope="user"),
            "listed": listed,
            "global_listed": global_listed,
            "deleted": deleted,
            "deleted_again": deleted_again,
            "bad_scope": bad_scope,
            "user": service.get_user_info()["username"],
        }
